"""Server settings, read from the environment.

No secret is ever written to a file by this module: the token signing key comes from
``CLINIC_SECRET_KEY`` or, when absent, is generated at start-up and lives only in memory
(tokens then last as long as the process; refresh tokens live in the database, hashed).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

APP_NAME = "clinic-tui"


def data_dir() -> Path:
    """Where the embedded demo database lives (``CLINIC_DATA_DIR`` overrides, for tests)."""
    override = os.environ.get("CLINIC_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'clinic.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str = field(repr=False)
    demo: bool = False
    access_token_minutes: int = 10
    refresh_token_days: int = 14
    break_glass_minutes: int = 60
    #: failures before the account is temporarily locked; each further lockout doubles, capped.
    lockout_after: int = 5
    lockout_base_seconds: int = 60
    lockout_max_seconds: int = 15 * 60
    #: failures after which every further attempt is slowed down (seconds per attempt, capped)
    slow_after: int = 3
    slow_seconds: float = 1.0
    #: minutes between missing-data sweeps in ``serve`` (clinic_server/jobs.py); 0: never
    missing_sweep_minutes: float = 15.0

    def __post_init__(self) -> None:
        if not self.missing_sweep_minutes >= 0:  # (also refuses NaN)
            minutes = self.missing_sweep_minutes
            raise ValueError(f"the missing-data sweep interval must be 0 (off) or more, not {minutes}")

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        values = {
            "database_url": os.environ.get("CLINIC_DATABASE_URL") or default_database_url(),
            "secret_key": os.environ.get("CLINIC_SECRET_KEY") or secrets.token_urlsafe(48),
            "demo": os.environ.get("CLINIC_DEMO", "") == "1",
        }
        sweep = os.environ.get("CLINIC_MISSING_SWEEP_MINUTES")
        if sweep:
            try:
                values["missing_sweep_minutes"] = float(sweep)
            except ValueError:
                raise ValueError(
                    "CLINIC_MISSING_SWEEP_MINUTES must be a number of minutes "
                    f"(0 turns the sweep off), not {sweep!r}"
                ) from None

        values.update(overrides)
        return cls(**values)
