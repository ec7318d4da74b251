"""The client's settings: server, language, theme and key remaps.

Read from, each overriding the one before:

1. ``config.toml`` in the user's config directory (``platformdirs``: on Linux
   ``$XDG_CONFIG_HOME/clinic-tui/config.toml``, usually ``~/.config/clinic-tui/config.toml``);
2. ``CLINIC_SERVER``, ``CLINIC_LANGUAGE`` (or ``CLINIC_LANG``), ``CLINIC_THEME``, ``CLINIC_KEYMAP``
   (a JSON object, whose entries override the file's one by one), ``CLINIC_CA_FILE``,
   ``CLINIC_LOCK_MINUTES``;
3. the command line (``--server``, ``--lang``, ``--ca-file``).

README "Settings" documents the file; the binding ids a keymap can name are listed there too.
Nothing secret belongs here (sessions live in the OS keyring).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from clinic_tui.i18n import LANGUAGES

APP_DIR = "clinic-tui"
FILE_NAME = "config.toml"
ENV_PREFIX = "CLINIC_"


def config_file() -> Path:
    import platformdirs

    return platformdirs.user_config_path(APP_DIR) / FILE_NAME


class SettingsError(ValueError):
    """The settings cannot be used; the message says where and why (fit to print)."""


class ClientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    #: a running clinic-server (https://…; http:// only on loopback); none: the embedded demo backend
    server: str | None = None
    #: the UI language (``en`` or ``sv``)
    language: str = LANGUAGES[0]
    #: a Textual theme name (e.g. ``textual-dark``, ``nord``, ``gruvbox``); none: the default
    theme: str | None = None
    #: binding id -> key(s), e.g. ``{"alert.acknowledge": "k"}`` (several keys: ``"k,ctrl+k"``)
    keymap: dict[str, str] = {}
    #: a PEM file of the certificate authorities to trust for the server (a care provider's own
    #: CA); none: the system's
    ca_file: str | None = None
    #: minutes without a key press or mouse use until the screen locks (0: never)
    lock_minutes: float = 10

    @field_validator("lock_minutes")
    @classmethod
    def _lock_minutes(cls, value: float) -> float:
        if value < 0:
            raise ValueError("0 (never) or a number of minutes")
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value and not Path(value).expanduser().is_file():
            raise ValueError(f"no such CA file: {value}")
        return str(Path(value).expanduser()) if value else None

    @field_validator("server")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        if not value:
            return None
        from clinic_tui.api.client import InsecureServerUrl, check_server_url

        try:
            return check_server_url(value)
        except InsecureServerUrl as exc:
            raise ValueError(str(exc)) from None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"choose one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("keymap")
    @classmethod
    def _keymap(cls, value: dict[str, str]) -> dict[str, str]:
        for binding_id, keys in value.items():
            if not binding_id.strip() or not keys.strip():
                raise ValueError(f"{binding_id!r} = {keys!r}: a binding id and at least one key")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # earlier sources win: command line, then environment, then the file
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file())


def load_settings(**flags: Any) -> ClientSettings:
    """The settings, with ``flags`` (the command line; None: not given) overriding the rest."""
    import os

    path = config_file()
    short = os.environ.get("CLINIC_LANG")  # the language's short name, below CLINIC_LANGUAGE
    if short and flags.get("language") is None and "CLINIC_LANGUAGE" not in os.environ:
        flags["language"] = short
    try:
        return ClientSettings(**{k: v for k, v in flags.items() if v is not None})
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"settings ({path}, {ENV_PREFIX}* variables, options): {problems}") from None


def save_language(code: str) -> Path:
    """Remember ``code`` as the language in the settings file (the rest of the file is kept as
    written: only its top-level ``language`` line is replaced or added)."""
    if code not in LANGUAGES:
        raise SettingsError(f"unknown language {code!r}: choose one of {', '.join(LANGUAGES)}")
    path = config_file()
    lines = path.read_text().splitlines() if path.exists() else []
    line = f'language = "{code}"'
    for i, text in enumerate(lines):
        stripped = text.strip()
        if stripped.startswith("["):  # a table begins: the top level has no language
            lines.insert(0, line)
            break
        if stripped.split("=", 1)[0].strip() == "language":
            lines[i] = line
            break
    else:
        lines.insert(0, line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
