"""``python -m fastbp``: the ``fastbp`` command (:mod:`fastbp.cli`)."""

import sys

from fastbp.cli import main

sys.exit(main())
