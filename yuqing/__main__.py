"""`python -m yuqing` is the `yuqing` command."""

import sys

from .cli import main

sys.exit(main())
