"""Rule figure_relearn_curves: forget accuracy during relearning, from every metrics JSON."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.report.make_figures import relearn_figure

with logged(snakemake.log[0]):
    relearn_figure(snakemake.input.metrics, [snakemake.output.pdf, snakemake.output.png])
