"""`python -m codeloop.cli`: the `codeloop` command, for environments without the script."""

import sys

from codeloop.cli import main

sys.exit(main())
