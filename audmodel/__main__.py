"""Run the command line: ``python -m audmodel``."""

import sys

from audmodel._cli import main


sys.exit(main())
