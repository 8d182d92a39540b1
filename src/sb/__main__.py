"""Entry point for `python -m sb` and the zipapp: hand the command line to the CLI."""
import sys

from sb.cli import main

if __name__ == "__main__":
    sys.exit(main())
