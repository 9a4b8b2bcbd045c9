"""Rule train_original: the original model, trained on the whole training set."""

from __future__ import annotations

import time
from pathlib import Path

from lethe.data.augment import black
from lethe.device import DEFAULT_RUNTIME, Runtime, memory_format_name, prepare_model, synchronize, warm_up
from lethe.models.checkpoint import model_meta, save_checkpoint
from lethe.models.registry import build_model
from lethe.train import fit, recipe_args


def train_original(
    npz_path: str | Path,
    manifest_path: str | Path,
    arch: str,
    seed: int,
    recipe: dict,
    out: str | Path,
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Train the original model on the whole training set; save checkpoint and sidecar."""
    dev, precision, dataset = runtime.start_training(npz_path, manifest_path, seed)
    model = build_model(arch, tuple(dataset.manifest["shape"]), dataset.num_classes, seed=seed)
    model = prepare_model(model, dev, runtime.memory_format)
    warm_up(dev)
    started = time.perf_counter()
    result = fit(
        model, dataset.train, **recipe_args(recipe), seed=seed, name=f"original {arch} seed {seed}",
        monitor=dataset.test, amp=runtime.amp,
        augment_fill=black(dataset.manifest["mean"], dataset.manifest["std"]),
    )  # fmt: skip
    synchronize(dev)
    meta = {
        **model_meta(arch, dataset, seed),
        "recipe": recipe, "device": str(dev), "train_seconds": time.perf_counter() - started,
        "steps": result.steps, "history": result.history,
        "amp": precision, "memory_format": memory_format_name(model),
    }  # fmt: skip
    if result.skipped_steps:
        meta["skipped_steps"] = result.skipped_steps
    save_checkpoint(model, out, meta)
    return meta


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    train_original(
        *job.dataset, job.wildcards.arch, job.seed, job.params.recipe, job.output.model, runtime=Runtime.from_job(job)
    )
