"""Rule figure_gradcam: Grad-CAM (or input-gradient) maps of the original, chosen and retrained models."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.report.saliency import saliency_figure

with logged(snakemake.log[0]):
    saliency_figure(
        snakemake.input.models,
        snakemake.input.npz,
        snakemake.input.manifests,
        snakemake.input.forget_sets,
        snakemake.params.methods,
        snakemake.params.images,
        [snakemake.output.pdf, snakemake.output.png],
        threads=snakemake.threads,
    )
