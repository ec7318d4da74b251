"""``clinic-tui``: start the terminal app (on its embedded demo backend unless --server is given)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clinic-tui", description=__doc__)
    parser.add_argument(
        "--server",
        metavar="URL",
        help="a running clinic-server (https://…; http:// only for 127.0.0.1/localhost). "
        "Without it, a demo backend starts beside the app.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if args.version:
        from clinic_tui import __version__

        print(f"clinic-tui {__version__}")
        return 0
    if args.server:
        from clinic_tui.api.client import InsecureServerUrl, check_server_url

        try:
            check_server_url(args.server)
        except InsecureServerUrl as exc:
            print(f"clinic-tui: {exc}", file=sys.stderr)
            return 2

    from clinic_tui.app import ClinicApp

    app = ClinicApp(server_url=args.server)
    try:
        app.run()
    finally:
        app.stop_backend()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
