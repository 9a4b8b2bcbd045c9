"""Rule train_reference: the K reference models of one dataset/arch/seed (lethe.populations.reference)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from lethe.device import DEFAULT_RUNTIME, Runtime, synchronize, warm_up
from lethe.io import atomic_path, sha256_file, write_json
from lethe.models.checkpoint import save_tensors
from lethe.populations.reference import train_reference

log = logging.getLogger(__name__)


def write_reference(
    npz_path: str | Path,
    manifest_path: str | Path,
    arch: str,
    seed: int,
    recipe: dict,
    k: int,
    scores_out: str | Path,
    models_out: str | Path,
    meta_out: str | Path,
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Train the reference models; write their scores (npz), weights (safetensors) and a sidecar."""
    dev, _, dataset = runtime.start_training(npz_path, manifest_path, seed)
    warm_up(dev)
    shape = dataset.manifest["shape"]
    ref = train_reference(arch, dataset.train, dataset.test, shape, dataset.num_classes, recipe, seed, k)
    synchronize(dev)
    with atomic_path(scores_out) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, in_mask=ref["in_mask"], phi=ref["phi"], n_train=np.int64(ref["n_train"]))
    save_tensors(ref["params"], models_out)
    meta = {
        "arch": arch, "dataset": dataset.name, "dataset_sha256": dataset.manifest["sha256"], "seed": seed,
        "models": k, "recipe": recipe, "population": "train + test (training samples first)",
        "n_train": ref["n_train"], "n_test": len(dataset.test), "batched": ref["batched"],
        "seconds": ref["seconds"], "device": str(dev),
        "scores_sha256": sha256_file(scores_out), "models_sha256": sha256_file(models_out),
    }  # fmt: skip
    write_json(meta_out, meta)
    log.info(
        "%d reference models (%s, %s) trained in %.1fs (%s)",
        k, arch, dataset.name, ref["seconds"], "batched" if ref["batched"] else "one at a time",
    )  # fmt: skip
    return meta


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    arch, params, out, runtime = job.wildcards.arch, job.params, job.output, Runtime.from_job(job)
    outputs = (out.scores, out.models, out.meta)
    write_reference(*job.dataset, arch, job.seed, params.recipe, params.models, *outputs, runtime=runtime)
