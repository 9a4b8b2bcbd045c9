"""Run one unlearning method on one forget set: build the data view, time, record cost."""

from __future__ import annotations

import copy
import logging
import time

import numpy as np
import torch

from lethe.data.forget_sets import retain_indices
from lethe.data.tensors import Dataset
from lethe.device import amp_dtype, amp_name, memory_format_name, seed_everything, synchronize, warm_up
from lethe.methodkit.base import Context, UnlearningData
from lethe.methods import get_method, method_info
from lethe.models.registry import Classifier

log = logging.getLogger(__name__)


def data_view(dataset: Dataset, forget: dict, method: str) -> UnlearningData:
    """The data ``method`` may see: what it did not declare is structurally absent (None)."""
    info = method_info(method)
    forget_idx = np.asarray(forget["indices"], dtype=np.int64)
    classes = None if forget["classes"] is None else tuple(forget["classes"])
    if info.class_only and classes is None:
        raise ValueError(
            f"method {method!r} applies to class forgetting only; forget set {forget['id']!r} is {forget['kind']}"
        )
    retain_idx = retain_indices(forget, len(dataset.train))
    return UnlearningData(
        forget=dataset.train.subset(forget_idx) if info.needs_forget else None,
        retain=dataset.train.subset(retain_idx) if info.needs_retain else None,
        validation=dataset.val,
        num_classes=dataset.num_classes,
        forget_classes=classes,
        shape=tuple(dataset.manifest["shape"]),
        mean=tuple(float(m) for m in dataset.manifest["mean"]),
        std=tuple(float(s) for s in dataset.manifest["std"]),
        forget_indices=forget_idx if info.needs_forget else None,
        retain_indices=retain_idx if info.needs_retain else None,
    )


def weight_change(before: Classifier | None, after: Classifier) -> dict:
    """How much a method moved the weights it started from: ``changed_fraction`` (of the
    parameter entries, those that differ at all), ``relative_distance`` (‖θ − θ₀‖ / ‖θ₀‖
    over the parameters) and ``unchanged`` (no entry differs: the model is its start);
    ``diverged``: a weight or buffer of the returned model is not finite (NaN or infinite),
    so its metrics describe a broken model, not forgetting; measured for every method.
    All None for a method that starts from no model (retrain) or returns another
    architecture (then nothing compares entry for entry)."""
    with torch.no_grad():
        diverged = not all(bool(torch.isfinite(t).all()) for t in after.state_dict().values() if t.is_floating_point())
    none = {"changed_fraction": None, "relative_distance": None, "unchanged": None, "diverged": diverged}
    if before is None:
        return none
    old, new = dict(before.named_parameters()), dict(after.named_parameters())
    if old.keys() != new.keys() or any(old[k].shape != new[k].shape for k in old):
        return none
    changed = total = 0
    diff2 = norm2 = 0.0
    with torch.no_grad():
        for name, p0 in old.items():
            p0, p1 = p0.detach().float(), new[name].detach().to(p0.device).float()
            changed += int((p0 != p1).sum())
            total += p0.numel()
            diff2 += float((p1 - p0).pow(2).sum())
            norm2 += float(p0.pow(2).sum())
    return {
        "changed_fraction": changed / total if total else 0.0,
        "relative_distance": (diff2 / norm2) ** 0.5 if norm2 > 0 else float(diff2 > 0),
        "unchanged": changed == 0,
        "diverged": diverged,
    }


def run_unlearning(
    method: str,
    original: Classifier | None,
    dataset: Dataset,
    forget: dict,
    params: dict,
    *,
    arch: str,
    seed: int,
    device: torch.device,
    amp: bool | str = False,
    memory_format: str = "auto",
) -> tuple[Classifier, dict]:
    """Apply ``method`` to a copy of ``original``; return the model and its run record.

    The record holds wall-clock seconds (CUDA synchronised; data already on the device;
    torch's one-time start-up paid before the clock, see :func:`lethe.device.warm_up`),
    gradient steps and samples touched. ``amp`` and ``memory_format`` reach the method
    through its :class:`Context` (see :mod:`lethe.device`); ``original`` should already be
    on ``device`` in that memory format (:func:`lethe.device.prepare_model`).
    """
    info = method_info(method)
    if info.needs_original and original is None:
        raise ValueError(f"method {method!r} needs the original model")
    data = data_view(dataset, forget, method)
    model = copy.deepcopy(original) if original is not None else None
    precision = amp_name(amp_dtype(amp, device))  # a bad value fails here, before any work
    ctx = Context(device=device, seed=seed, arch=arch, amp=amp, memory_format=memory_format)
    warm_up(device)
    unlearn_fn = get_method(method)  # import the module (and its libraries) before the clock
    seed_everything(seed)
    log.info("unlearning with %s on forget set %s (%d samples)", method, forget["id"], forget["size"])
    synchronize(device)
    started = time.perf_counter()
    model = unlearn_fn(model, data, params, ctx)
    synchronize(device)
    seconds = time.perf_counter() - started
    log.info("%s done in %.3fs, %d gradient steps", method, seconds, ctx.steps)
    weights = weight_change(original if info.needs_original else None, model)  # retrain starts from no model
    if weights["diverged"]:
        log.warning(
            "%s returned non-finite weights on forget set %s: the model is broken, its metrics are not forgetting",
            method,
            forget["id"],
        )
    if weights["unchanged"]:
        log.warning(
            "%s left every weight of its start model unchanged on forget set %s: its metrics are the original's",
            method,
            forget["id"],
        )
    record = {
        "method": method,
        "forget_set": forget["id"],
        "seed": seed,
        "arch": arch,
        "device": str(device),
        "amp": precision,
        "memory_format": memory_format_name(model),
        "seconds": seconds,
        "steps": ctx.steps,
        "samples": ctx.samples,
        "params": params,
        "notes": ctx.notes,
        "weights": weights,
    }
    return model.eval(), record
