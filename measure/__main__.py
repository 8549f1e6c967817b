"""Entry point for ``python -m measure``."""
import sys

from .cli import main

sys.exit(main())
