"""Saliency maps for the figure's GradCAM panels: where a model looks for an image's true class.

* Models with a convolutional layer: Grad-CAM (Selvaraju et al., ICCV 2017) on the last
  ``nn.Conv2d`` through pytorch-grad-cam (``GradCAM`` with ``ClassifierOutputTarget``).
* Models without one (the MLP): plain input-gradient saliency (Simonyan et al., ICLR 2014
  workshop), |∂z_y/∂x|, the maximum over channels. An MLP's first hidden ``Linear`` has
  128 units that are not laid out in the image plane, so Grad-CAM through a
  ``reshape_transform`` would draw a map that means nothing; the figure's caption names
  which of the two each block shows.

The target is the image's true class (for a forgotten class: does the model still find
evidence for it, and where?). Each map is scaled to [0, 1] on its own, as pytorch-grad-cam
does: the panels compare where models look, not how strongly; a map whose target logit
does not depend on the input at all (zero_output's zeroed row) is blank.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lethe.data.datasets import load_arrays, read_manifest
from lethe.data.tensors import load_dataset
from lethe.device import set_threads
from lethe.io import read_json
from lethe.models.checkpoint import load_checkpoint
from lethe.plan.paths import ORIGINAL
from lethe.report.figures import saliency_panels

log = logging.getLogger(__name__)

GRAD_CAM = "Grad-CAM, last conv layer"
INPUT_GRADIENT = "input-gradient saliency (no conv layer)"


def last_conv(model: nn.Module) -> nn.Conv2d | None:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1] if convs else None


def saliency_kind(model: nn.Module) -> str:
    return GRAD_CAM if last_conv(model) is not None else INPUT_GRADIENT


def saliency_maps(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """N×H×W maps in [0, 1] of ``model`` for classes ``targets`` on images ``x`` (N×C×H×W)."""
    model.eval()
    layer = last_conv(model)
    if layer is not None:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        with GradCAM(model=model, target_layers=[layer]) as cam:
            maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in targets])
        return np.clip(np.asarray(maps, dtype=np.float32), 0.0, 1.0)
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    (grad,) = torch.autograd.grad(logits.gather(1, targets.view(-1, 1).to(logits.device)).sum(), x)
    grad = grad.abs().amax(dim=1)  # N×H×W
    peak = grad.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
    return (grad / peak).cpu().numpy().astype(np.float32)


def display_image(raw: np.ndarray) -> np.ndarray:
    """uint8 C×H×W → H×W (one channel) or H×W×3 floats in [0, 1]."""
    image = np.asarray(raw, dtype=np.float32) / 255.0
    return image[0] if image.shape[0] == 1 else np.transpose(image[:3], (1, 2, 0))


def saliency_block(
    models: Mapping[str, nn.Module],
    x_raw: np.ndarray,
    x: torch.Tensor,
    y: np.ndarray,
    forget_classes: list[int],
    images: int,
    title: str,
) -> dict:
    """One block of the saliency figure: ``images`` test images of the first forgotten class
    and of the lowest retained class, each with every model's map for its true class.

    ``x_raw``: the test images as stored (uint8 N×C×H×W); ``x``: the same, normalised as the
    models saw them; ``y``: their labels. Images are the first of each class in test order.
    """
    y = np.asarray(y)
    classes = sorted(set(int(c) for c in np.unique(y)))
    forgotten = int(forget_classes[0])
    retained = next(c for c in classes if c not in set(forget_classes))
    picks = [(f"forgotten class {forgotten}", forgotten), (f"retained class {retained}", retained)]
    kinds = {saliency_kind(model) for model in models.values()}
    rows = []
    for label, cls in picks:
        index = np.flatnonzero(y == cls)[:images]
        if len(index) == 0:
            continue
        batch = x[torch.as_tensor(index)]
        targets = torch.full((len(index),), cls, dtype=torch.long)
        per_model = {}
        for name, model in models.items():
            with torch.no_grad():
                probs = torch.softmax(model.eval()(batch), dim=1)
            per_model[name] = (saliency_maps(model, batch, targets), probs.argmax(1).tolist(), probs[:, cls].tolist())
        for j, i in enumerate(index):
            rows.append(
                {
                    "label": f"{label}\n(test #{int(i)})",
                    "image": display_image(x_raw[i]),
                    "maps": [per_model[name][0][j] for name in models],
                    "pred": [int(per_model[name][1][j]) for name in models],
                    "p_true": [float(per_model[name][2][j]) for name in models],
                }
            )
    return {"title": title, "saliency": " / ".join(sorted(kinds)), "models": list(models), "rows": rows}


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
        groups.setdefault((meta["dataset"], meta["arch"]), {})[meta.get("method", ORIGINAL)] = (model, meta)
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
        x_raw = load_arrays(npz, manifest)["x_test"]
        blocks.append(saliency_block(models, x_raw, test.x, test.y.numpy(), forget["classes"], images, title=title))
    shown = saliency_panels(blocks, paths)
    log.info("figure gradcam of %s (%s): %s", methods, ", ".join(b["saliency"] for b in blocks), shown)
    return shown
