"""Rule figure_confusion: test confusion matrices before and after unlearning."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.report.make_figures import confusion_figure

with logged(snakemake.log[0]):
    confusion_figure(snakemake.input.metrics, snakemake.params.methods, [snakemake.output.pdf, snakemake.output.png])
