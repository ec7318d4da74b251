"""``clinic-tui``: start the terminal app (on its embedded demo backend unless a server is set)."""

from __future__ import annotations

import argparse
import os
import sys

#: the variables clinic_tui.settings reads (a test holds this to its fields)
SETTINGS_ENV = (
    "CLINIC_SERVER",
    "CLINIC_LANGUAGE",
    "CLINIC_THEME",
    "CLINIC_KEYMAP",
    "CLINIC_CA_FILE",
    "CLINIC_LOCK_MINUTES",
)
#: read too: the language's short name (settings.load_settings)
OTHER_ENV = ("CLINIC_LANG",)


def settings_file():
    """Where clinic_tui.settings reads its file (without importing it: see ``_configured``)."""
    import platformdirs

    return platformdirs.user_config_path("clinic-tui") / "config.toml"


def _configured(args: argparse.Namespace) -> bool:
    """Is there anything to read? Reading settings loads pydantic (~80 ms), which the app otherwise
    does only after its first paint; with nothing configured the defaults are read there."""
    return bool(
        args.server
        or args.lang
        or args.ca_file
        or any(n in os.environ for n in SETTINGS_ENV + OTHER_ENV)
        or settings_file().exists()
    )


def _only_a_language(args: argparse.Namespace) -> str | None:
    """When the one thing configured is the language (``--lang``, ``CLINIC_LANGUAGE``/``CLINIC_LANG``,
    or a settings file that holds only ``language``, as F2 writes it), that language: the app shows
    its login screen in it and reads the settings (pydantic) after its first paint, as with nothing
    configured. None when anything else is configured, or the language is not one the UI has: then
    the settings are read, and refused with their reason, before the app starts, as always."""
    import tomllib

    from clinic_tui.i18n import LANGUAGES

    if args.server or args.ca_file or any(n in os.environ for n in SETTINGS_ENV if n != "CLINIC_LANGUAGE"):
        return None
    chosen = [args.lang, os.environ.get("CLINIC_LANGUAGE"), os.environ.get("CLINIC_LANG")]
    path = settings_file()
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        if set(data) - {"language"}:
            return None
        chosen.append(data.get("language"))
    given = [value for value in chosen if value is not None]
    if any(value not in LANGUAGES for value in given):
        return None  # (the settings say why, as before)
    return given[0] if given else LANGUAGES[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clinic-tui", description=__doc__)
    parser.add_argument(
        "--server",
        metavar="URL",
        help="a running clinic-server (https://…; http:// only for 127.0.0.1/localhost). "
        "Without it (here, in CLINIC_SERVER or in the settings file), a demo backend starts beside the app.",
    )
    parser.add_argument("--lang", metavar="LANG", help="the UI language: en or sv")
    parser.add_argument(
        "--ca-file",
        metavar="FILE",
        help="PEM file of the CAs to trust for the https:// server (default: the system's)",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if args.version:
        from clinic_tui import __version__

        print(f"clinic-tui {__version__}")
        return 0
    settings = None
    language = _only_a_language(args) if _configured(args) else None
    if _configured(args) and language is None:
        from clinic_tui.settings import SettingsError, load_settings

        try:
            settings = load_settings(server=args.server, language=args.lang, ca_file=args.ca_file)
        except SettingsError as exc:
            print(f"clinic-tui: {exc}", file=sys.stderr)
            return 2

    import gc

    # No garbage collection until the login screen is drawn: importing Textual and building the
    # first screen allocate about 100,000 objects and nothing of it is garbage yet, so the
    # collector's passes (a full one among them) only delay the first paint; the app turns it back
    # on right after (``ClinicApp.after_first_paint``; docs/performance.md, start-up).
    collecting = gc.isenabled()
    gc.disable()
    try:
        from clinic_tui.app import ClinicApp

        app = ClinicApp(settings, language=language, collect_after_first_paint=collecting)
        try:
            app.run()
        finally:
            app.stop_backend()
    finally:
        if collecting:
            gc.enable()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
