"""The figure rules' stages: read result files, draw one figure (:mod:`lethe.report.figures`).

Like :mod:`lethe.stages`, each function takes file paths and plain parameters and writes
its outputs; it lives apart so that a figure job imports neither torch nor the attack
libraries that :mod:`lethe.stages` pulls in (seconds per job): only
:func:`saliency_figure`, which runs the models, imports torch, inside the function.
Each returns True when the figure shows data, False when it says there is nothing to show.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lethe.io import read_json

log = logging.getLogger(__name__)


def table_figure(name: str, tidy_csv: str | Path, paths: list[str | Path]) -> bool:
    """Figure ``name`` of :data:`lethe.report.figures.TABLE_FIGURES` from the tidy metrics CSV."""
    import pandas as pd

    from lethe.report.figures import TABLE_FIGURES

    if name not in TABLE_FIGURES:
        raise ValueError(f"table_figure: unknown figure {name!r}; known: {sorted(TABLE_FIGURES)}")
    shown = TABLE_FIGURES[name](pd.read_csv(tidy_csv), paths)
    log.info("figure %s: %s", name, "written" if shown else "nothing to show (placeholder written)")
    return shown


def fnn_figure(run_paths: list[str | Path], paths: list[str | Path]) -> bool:
    """FNN learning–unlearning curves from FNN run records (none: a placeholder)."""
    from lethe.report.figures import fnn_curves

    shown = fnn_curves([read_json(p) for p in run_paths], paths)
    log.info("figure fnn_curves from %d run records: %s", len(run_paths), "written" if shown else "placeholder")
    return shown


def confusion_figure(metrics_paths: list[str | Path], methods: list[str], paths: list[str | Path]) -> bool:
    """Test confusion matrices of ``methods`` (columns, in order) from their metrics JSONs."""
    from lethe.report.figures import confusion_matrices

    shown = confusion_matrices([read_json(p) for p in metrics_paths], methods, paths)
    log.info("figure confusion of %s: %s", methods, "written" if shown else "placeholder")
    return shown


def relearn_figure(metrics_paths: list[str | Path], paths: list[str | Path]) -> bool:
    """Relearn curves from metrics JSONs (none carrying a curve: a placeholder)."""
    from lethe.report.figures import relearn_curves

    shown = relearn_curves([read_json(p) for p in metrics_paths], paths)
    what = "written" if shown else "placeholder"
    log.info("figure relearn_curves from %d metrics JSONs: %s", len(metrics_paths), what)
    return shown


def saliency_figure(
    model_paths: list[str | Path],
    npz_paths: list[str | Path],
    manifest_paths: list[str | Path],
    forget_paths: list[str | Path],
    methods: list[str],
    images: int,
    paths: list[str | Path],
    threads: int | None = None,
) -> bool:
    """GradCAM / saliency panels of the checkpoints in ``model_paths`` (on CPU).

    Checkpoint sidecars say which dataset, architecture and method each model is (no
    ``method``: the original); ``methods`` orders the columns. ``npz_paths`` and
    ``manifest_paths`` are the datasets (pairwise), ``forget_paths`` one forget set per
    dataset, whose first class is the forgotten class shown. A dataset whose forget set
    has no classes (random samples) gets no block.
    """
    import torch

    from lethe.data.datasets import load_arrays, read_manifest
    from lethe.data.tensors import load_dataset
    from lethe.device import set_threads
    from lethe.models.checkpoint import load_checkpoint
    from lethe.plan import REFERENCE
    from lethe.report.figures import saliency_panels
    from lethe.report.saliency import saliency_block

    set_threads(threads)
    cpu = torch.device("cpu")
    data = {read_manifest(m)["name"]: (npz, m) for npz, m in zip(npz_paths, manifest_paths, strict=True)}
    forgets = {}
    for path in forget_paths:
        forget = read_json(path)
        forgets[forget["dataset"]] = forget
    groups: dict[tuple[str, str], dict] = {}
    for path in model_paths:
        model, meta = load_checkpoint(path, cpu)
        groups.setdefault((meta["dataset"], meta["arch"]), {})[meta.get("method", REFERENCE)] = (model, meta)
    blocks = []
    for (dataset, arch), by_method in groups.items():
        forget = forgets[dataset]
        if not forget["classes"]:
            continue
        models = {m: by_method[m][0] for m in methods if m in by_method}
        seed = next(iter(by_method.values()))[1]["seed"]
        npz, manifest = data[dataset]
        test = load_dataset(npz, manifest, cpu).test
        title = f"{dataset} / {arch} / seed {seed} / {forget['id']}"
        x_raw = load_arrays(npz)["x_test"]
        blocks.append(saliency_block(models, x_raw, test.x, test.y.numpy(), forget["classes"], images, title=title))
    shown = saliency_panels(blocks, paths)
    log.info("figure gradcam of %s (%s): %s", methods, ", ".join(b["saliency"] for b in blocks), shown)
    return shown
