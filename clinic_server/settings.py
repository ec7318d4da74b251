"""Server settings (pydantic-settings): ``CLINIC_*`` environment variables, overridden by CLI flags.

| variable | setting | default |
|---|---|---|
| ``CLINIC_DATABASE_URL`` | database | a SQLite file in the user data directory |
| ``CLINIC_SECRET_KEY`` | token signing key, shared by every API process | random per process |
| ``CLINIC_DEMO`` | demo mode (``1``): /info lists the demo accounts | off |
| ``CLINIC_MISSING_SWEEP_MINUTES`` | minutes between missing-data sweeps in ``serve`` (0: off) | 15 |
| ``CLINIC_RETENTION_HOURS`` | hours between retention runs in ``serve`` (0: off) | 24 |
| ``CLINIC_FISCAL_YEAR_END_MONTH`` | the month IMR's fiscal year ends (bookkeeping retention) | 12 |
| ``CLINIC_FEED_SECONDS`` | demo mode: seconds between simulated device readings | 5 |
| ``CLINIC_FINDINGS_SCAN_MINUTES`` | minutes between privacy-monitoring scans in ``serve`` (0: off) | 5 |
| ``CLINIC_IDENTITY_KEY`` | key of the hashes linking users to their own identity (relation rule) | keyring |
| ``CLINIC_IDEMPOTENCY_KEY_HOURS`` | how long a write's ``Idempotency-Key`` is remembered | 168 |
| ``CLINIC_DATA_DIR`` | where the default SQLite file lives | platformdirs' user data dir |
| ``CLINIC_REPORT_MIN_CELL`` | employer reports: fewest people a number rests on (5 at least) | 5 |
| ``CLINIC_AUDIT_CHECKPOINT_MINUTES`` | minutes between audit checkpoints in ``serve`` (0: off) | 5 |
| ``CLINIC_AUDIT_SIGNING_KEY`` | signs audit checkpoints (Ed25519), shared by every API process | unsigned |
| ``CLINIC_REPORT_KEY`` | key of the hashes of what each person contributed to an issued report | keyring |

No secret is ever written to a file by this module: without ``CLINIC_SECRET_KEY`` the signing key is
generated at start-up and lives only in memory (tokens then last as long as the process; refresh
tokens live in the database, hashed).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
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
    #: a session (refresh-token family) ends this long after its login, however often it is
    #: renewed: then the user logs in again (a working day)
    session_max_hours: int = Field(12, ge=1)
    break_glass_minutes: int = Field(60, ge=1, le=24 * 60)
    #: failed logins of one name from one source before that pair is locked for a while; each
    #: further lockout doubles, capped (services/login_throttle.py)
    lockout_after: int = Field(5, ge=1)
    lockout_base_seconds: int = Field(60, ge=1)
    lockout_max_seconds: int = Field(15 * 60, ge=1)
    #: failures after which each further attempt from that source must wait (seconds per
    #: attempt, capped at 5): earlier ones are answered 429 with Retry-After, never slept on
    slow_after: int = Field(3, ge=0)
    slow_seconds: float = Field(1.0, ge=0)
    #: failures of one name from all sources within the window that make it an attack on the
    #: account: its supervisor is told, and new sources need password and TOTP until it passes
    account_alert_after: int = Field(20, ge=1)
    account_window_minutes: int = Field(15, ge=1)
    #: a source the user logged in from within this many days is known (not shut out by an attack)
    known_source_days: int = Field(90, ge=1)
    #: minutes between missing-data sweeps in ``serve`` (clinic_server/jobs/); 0: never
    missing_sweep_minutes: float = Field(15.0, ge=0, allow_inf_nan=False)
    #: hours between retention runs in ``serve`` (clinic_server/jobs/retention.py); 0: never
    retention_hours: float = Field(24.0, ge=0, allow_inf_nan=False)
    #: the month IMR's fiscal year ends (billing records are kept for bookkeeping after it)
    fiscal_year_end_month: int = Field(12, ge=1, le=12)
    #: demo mode: seconds between rounds of simulated device readings
    feed_seconds: float = Field(5.0, gt=0, allow_inf_nan=False)
    #: minutes between privacy-monitoring scans of the audit log in ``serve``; 0: never
    findings_scan_minutes: float = Field(5.0, ge=0, allow_inf_nan=False)
    #: key of the keyed hashes that link users to their own personnummer, surname and address
    #: (``services/findings/identity.py``); shared by every API process. Unset: the OS keyring
    identity_key: SecretStr | None = Field(None, min_length=32, repr=False)
    #: a retried write with the same ``Idempotency-Key`` returns the first result for this long (a
    #: coach's unsent draft may wait over a long weekend before the server is back)
    idempotency_key_hours: int = Field(7 * 24, ge=1, le=90 * 24)
    #: employer reports: no published number rests on fewer people (access.policy.MIN_CELL_FLOOR,
    #: 5, is the floor: DESIGN.md promises it, so no setting can go below it)
    report_min_cell: int = Field(5, ge=5, le=1000)
    #: minutes between audit checkpoints (``audit/checkpoint.py``) in ``serve``; 0: never
    audit_checkpoint_minutes: float = Field(5.0, ge=0, allow_inf_nan=False)
    #: text the audit checkpoints' Ed25519 signing key is derived from; shared by every API
    #: process, never stored in the database. Unset: checkpoints are chained but not signed
    audit_signing_key: SecretStr | None = Field(None, min_length=32, repr=False)
    #: key of the keyed hashes of the issued reports' contributions (``services/reports/store.py``);
    #: shared by every API process. Unset: the OS keyring
    report_key: SecretStr | None = Field(None, min_length=32, repr=False)

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

    @field_validator("findings_scan_minutes", mode="before")
    @classmethod
    def _scan_minutes(cls, value):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(
                    f"must be a number of minutes (0 turns the scan off), not {value[:20]!r}"
                ) from None
        if isinstance(value, int | float) and not value >= 0:  # (NaN too)
            raise ValueError(f"the findings scan interval must be 0 (off) or more, not {value}")
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
