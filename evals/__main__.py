"""``python -m evals [--dataset FILE] [--out DIR] [--check] [--no-baseline] [--limit N]``."""

import sys

from .runner import main

if __name__ == "__main__":
    sys.exit(main())
