"""Rule train_erm: ERM-KTP's own original, trained with class masks (the erm_ktp method starts from it)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from lethe.device import DEFAULT_RUNTIME, Runtime, memory_format_name, prepare_model, synchronize, warm_up
from lethe.methodkit.class_masks import MASK_KEY, train_erm
from lethe.methods.catalog import original_params
from lethe.models.checkpoint import model_meta, save_checkpoint
from lethe.models.registry import build_model
from lethe.train import accuracy

log = logging.getLogger(__name__)


def train_erm_original(
    npz_path: str | Path,
    manifest_path: str | Path,
    arch: str,
    seed: int,
    recipe: dict,
    params: dict,
    out: str | Path,
    stages_out: str | Path,
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Train the ERM original with the config's recipe and erm_ktp's mask parameters
    (:func:`lethe.methodkit.class_masks.train_erm`); the class masks go to ``stages_out``.

    Same initialisation seed as the pipeline's original, so the two differ only in the masks.
    """
    dev, precision, dataset = runtime.start_training(npz_path, manifest_path, seed)
    params = original_params("erm_ktp", params)
    model = build_model(arch, tuple(dataset.manifest["shape"]), dataset.num_classes, seed=seed)
    model = prepare_model(model, dev, runtime.memory_format)
    warm_up(dev)
    started = time.perf_counter()
    mask, result, history = train_erm(model, dataset.train, recipe, params, seed)
    synchronize(dev)
    seconds = time.perf_counter() - started
    model.stages = {MASK_KEY: mask}
    meta = {
        **model_meta(arch, dataset, seed),
        "method": "erm_original", "recipe": recipe, "params": params, "device": str(dev),
        "train_seconds": seconds, "steps": result.steps, "samples": result.samples, "history": history,
        "acc_test": accuracy(model, dataset.test), "amp": precision, "memory_format": memory_format_name(model),
    }  # fmt: skip
    log.info("ERM original: test accuracy %.4f, %d steps, %.1fs", meta["acc_test"], result.steps, seconds)
    save_checkpoint(model, out, meta, stages_path=stages_out)
    return meta


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    arch, params, out, runtime = job.wildcards.arch, job.params, job.output, Runtime.from_job(job)
    train_erm_original(
        *job.dataset, arch, job.seed, params.recipe, params.hyper, out.model, out.stages, runtime=runtime
    )
