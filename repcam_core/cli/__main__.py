"""``python -m repcam_core.cli``."""

import sys

from repcam_core.cli import main

sys.exit(main())
