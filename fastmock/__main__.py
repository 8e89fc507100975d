"""``python -m fastmock``."""
import sys

from fastmock.cli import main

sys.exit(main())
