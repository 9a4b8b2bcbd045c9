"""Rule figure_gradcam: Grad-CAM (or input-gradient) maps of the original, chosen and retrained models."""

from __future__ import annotations

from lethe.report.saliency import saliency_figure


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the call that draws it."""
    saliency_figure(
        job.input.models,
        job.input.npz,
        job.input.manifests,
        job.input.forget_sets,
        job.params.methods,
        job.params.images,
        [job.output.pdf, job.output.png],
        threads=job.threads,
    )
