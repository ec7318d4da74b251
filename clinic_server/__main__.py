import sys

from clinic_server.cli import main

sys.exit(main())
