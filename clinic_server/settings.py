"""Server settings (pydantic-settings): ``CLINIC_*`` environment variables, overridden by CLI flags.

| variable | setting | default |
|---|---|---|
| ``CLINIC_DATABASE_URL`` | database | a SQLite file in the user data directory |
| ``CLINIC_SECRET_KEY`` | token signing key, shared by every API process | random per process |
| ``CLINIC_DEMO`` | demo mode (``1``): /info lists the demo accounts | off |
| ``CLINIC_MISSING_SWEEP_MINUTES`` | minutes between missing-data sweeps in ``serve`` (0: off) | 15 |
| ``CLINIC_FEED_SECONDS`` | demo mode: seconds between simulated device readings | 5 |
| ``CLINIC_DATA_DIR`` | where the default SQLite file lives | platformdirs' user data dir |
| ``CLINIC_REPORT_MIN_CELL`` | employer reports: fewest people a number rests on (5 at least) | 5 |

No secret is ever written to a file by this module: without ``CLINIC_SECRET_KEY`` the signing key is
generated at start-up and lives only in memory (tokens then last as long as the process; refresh
tokens live in the database, hashed).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "clinic-tui"


def data_dir() -> Path:
    """Where the embedded demo database lives (``CLINIC_DATA_DIR`` overrides, for tests)."""
    override = os.environ.get("CLINIC_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'clinic.sqlite3'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", frozen=True, extra="ignore")

    database_url: str = Field(default_factory=default_database_url, min_length=1)
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(48), min_length=32, repr=False)
    demo: bool = False
    access_token_minutes: int = Field(10, ge=1)
    refresh_token_days: int = Field(14, ge=1)
    break_glass_minutes: int = Field(60, ge=1, le=24 * 60)
    #: failures before the account is temporarily locked; each further lockout doubles, capped
    lockout_after: int = Field(5, ge=1)
    lockout_base_seconds: int = Field(60, ge=1)
    lockout_max_seconds: int = Field(15 * 60, ge=1)
    #: failures after which every further attempt is slowed down (seconds per attempt, capped)
    slow_after: int = Field(3, ge=0)
    slow_seconds: float = Field(1.0, ge=0)
    #: minutes between missing-data sweeps in ``serve`` (clinic_server/jobs/); 0: never
    missing_sweep_minutes: float = Field(15.0, ge=0, allow_inf_nan=False)
    #: demo mode: seconds between rounds of simulated device readings
    feed_seconds: float = Field(5.0, gt=0, allow_inf_nan=False)
    #: employer reports: no published number rests on fewer people (access.policy.MIN_CELL_FLOOR,
    #: 5, is the floor: DESIGN.md promises it, so no setting can go below it)
    report_min_cell: int = Field(5, ge=5, le=1000)

    @field_validator("missing_sweep_minutes", mode="before")
    @classmethod
    def _minutes(cls, value):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(
                    f"must be a number of minutes (0 turns the sweep off), not {value[:20]!r}"
                ) from None
        if isinstance(value, int | float) and not value >= 0:  # (NaN too)
            raise ValueError(f"the missing-data sweep interval must be 0 (off) or more, not {value}")
        return value

    def with_changes(self, **changes) -> Settings:
        """A copy with some settings changed (validated like the original)."""
        return Settings(**{**self.model_dump(), **changes})


def describe_error(exc: ValidationError) -> str:
    """A settings error as lines an operator can act on: which variable, and what is wrong."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        message = err.get("msg", "invalid").removeprefix("Value error, ")
        lines.append(f"{name} (CLINIC_{name.upper()}): {message}")
    return "; ".join(lines)
