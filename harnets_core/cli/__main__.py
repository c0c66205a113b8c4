"""`python -m harnets_core.cli ...` (e.g. under torchrun): the `harnets` command."""
import sys

from harnets_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
