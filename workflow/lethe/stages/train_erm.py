"""Rule train_erm: ERM-KTP's own original, trained with class masks (the erm_ktp method starts from it)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from lethe.data.tensors import load_dataset
from lethe.device import (
    DEFAULT_RUNTIME,
    Runtime,
    memory_format_name,
    prepare_model,
    seed_everything,
    synchronize,
    warm_up,
)
from lethe.methodkit.class_masks import MASK_KEY, train_erm
from lethe.methods.catalog import original_params
from lethe.models.checkpoint import save_checkpoint
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
    dev, precision = runtime.start()
    seed_everything(seed)
    dataset = load_dataset(npz_path, manifest_path, dev)
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
        "arch": arch, "shape": dataset.manifest["shape"], "num_classes": dataset.num_classes,
        "classes": dataset.classes, "dataset": dataset.name, "dataset_sha256": dataset.manifest["sha256"],
        "seed": seed, "method": "erm_original", "recipe": recipe, "params": params, "device": str(dev),
        "train_seconds": seconds, "steps": result.steps, "samples": result.samples, "history": history,
        "acc_test": accuracy(model, dataset.test), "amp": precision, "memory_format": memory_format_name(model),
    }  # fmt: skip
    log.info("ERM original: test accuracy %.4f, %d steps, %.1fs", meta["acc_test"], result.steps, seconds)
    save_checkpoint(model, out, meta, stages_path=stages_out)
    return meta


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    train_erm_original(
        job.input.npz,
        job.input.manifest,
        job.wildcards.arch,
        int(job.wildcards.seed),
        job.params.recipe,
        job.params.hyper,
        job.output.model,
        job.output.stages,
        runtime=Runtime.from_job(job),
    )
