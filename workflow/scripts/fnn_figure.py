"""Rule figure_fnn_curves: FNN learning-unlearning curves from the FNN run records."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.report.make_figures import fnn_figure

with logged(snakemake.log[0]):
    fnn_figure(snakemake.input.runs, [snakemake.output.pdf, snakemake.output.png])
