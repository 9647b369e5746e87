"""Command line: ``python -m bridgeimport {list,doctor,run,demo,bench}``.

The commands and their exit codes live in bridgeimport.cli.
"""

import sys

from bridgeimport.cli import main

if __name__ == "__main__":
    sys.exit(main())
