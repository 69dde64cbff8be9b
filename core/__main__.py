"""``python -m core …``: the same command line as ``mnist-explorer`` (see :mod:`core.cli`)."""

import sys

from core.cli import main

if __name__ == "__main__":
    sys.exit(main())
