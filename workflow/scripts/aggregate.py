"""Rule aggregate: every metrics JSON into a tidy CSV and its summary."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.stages.aggregate import aggregate

with logged(snakemake.log[0]):
    aggregate(snakemake.input.metrics, snakemake.output.tidy, snakemake.output.summary, snakemake.output.paired)
