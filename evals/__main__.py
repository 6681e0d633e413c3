"""``python -m evals [--dataset FILE] [--out DIR] [--check] [--no-baseline] [--limit N]``; against a running
service: ``python -m evals --url URL [--allow-host HOST] [--timeout S] [--deadline S]``.
"""

import sys

from .runner import main

if __name__ == "__main__":
    sys.exit(main())
