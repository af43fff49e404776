"""``python -m cli``: the same as the ``sanji`` command."""

import sys

from cli import main

sys.exit(main())
