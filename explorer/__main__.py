"""`python -m explorer` = the `explorer` command."""

import sys

from explorer.cli import main

if __name__ == "__main__":          # a worker process spawned from `python -m explorer` imports this module too
    sys.exit(main())
