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
    if _configured(args):
        from clinic_tui.settings import SettingsError, load_settings

        try:
            settings = load_settings(server=args.server, language=args.lang, ca_file=args.ca_file)
        except SettingsError as exc:
            print(f"clinic-tui: {exc}", file=sys.stderr)
            return 2

    from clinic_tui.app import ClinicApp

    app = ClinicApp(settings)
    try:
        app.run()
    finally:
        app.stop_backend()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
