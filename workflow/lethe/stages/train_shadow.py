"""Rule train_shadow: the shadow originals of one dataset/arch/seed (lethe.populations.shadow), for U-LiRA."""

from __future__ import annotations

import logging
from pathlib import Path

from lethe.device import DEFAULT_RUNTIME, Runtime, synchronize, warm_up
from lethe.io import sha256_file, write_json
from lethe.models.checkpoint import save_tensors
from lethe.populations.shadow import train_shadows

log = logging.getLogger(__name__)


def write_shadows(
    npz_path: str | Path,
    manifest_path: str | Path,
    arch: str,
    seed: int,
    recipe: dict,
    k: int,
    models_out: str | Path,
    meta_out: str | Path,
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Train the K shadow originals; write their stacked weights (safetensors) and a sidecar."""
    dev, _, dataset = runtime.start_training(npz_path, manifest_path, seed)
    warm_up(dev)
    shape = dataset.manifest["shape"]
    shadows = train_shadows(arch, dataset.train, shape, dataset.num_classes, recipe, seed, k)
    synchronize(dev)
    save_tensors(shadows["params"], models_out)
    meta = {
        "arch": arch, "dataset": dataset.name, "dataset_sha256": dataset.manifest["sha256"], "seed": seed,
        "shape": shape, "num_classes": dataset.num_classes, "models": k, "seeds": shadows["seeds"],
        "recipe": recipe, "batched": shadows["batched"], "seconds": shadows["seconds"], "device": str(dev),
        "models_sha256": sha256_file(models_out),
    }  # fmt: skip
    write_json(meta_out, meta)
    log.info("%d shadow originals (%s, %s) trained in %.1fs (%s)", k, arch, dataset.name, shadows["seconds"],
             "batched" if shadows["batched"] else "one at a time")  # fmt: skip
    return meta


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    arch, params, out, runtime = job.wildcards.arch, job.params, job.output, Runtime.from_job(job)
    write_shadows(*job.dataset, arch, job.seed, params.recipe, params.models, out.models, out.meta, runtime=runtime)
