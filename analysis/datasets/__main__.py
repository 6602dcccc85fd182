"""``python -m analysis.datasets``: see :mod:`analysis.datasets.cli`."""
import sys

from .cli import main

sys.exit(main())
