"""Entry of every job of the workflow: ``python workflow/job.py SPEC --log LOG --threads N``.

Started by its path, so that ``import lethe`` finds this checkout's package (the folder
of this file comes first on ``sys.path``). What it does: :mod:`lethe.engine.job`.
"""

import sys

from lethe.engine.job import main

sys.exit(main())
