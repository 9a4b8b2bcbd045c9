"""Rules figure_*: one figure drawn from the tidy metrics table, as PDF (paper) and PNG (report)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.report.make_figures import table_figure

with logged(snakemake.log[0]):
    table_figure(snakemake.params.figure, snakemake.input.tidy, [snakemake.output.pdf, snakemake.output.png])
