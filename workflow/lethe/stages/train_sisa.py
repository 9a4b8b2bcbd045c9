"""Rule train_sisa: SISA's sharded ensemble with its per-stage checkpoints."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from lethe.device import DEFAULT_RUNTIME, Runtime, memory_format_name, synchronize, warm_up
from lethe.methodkit.sharding import train_sisa as train_ensemble
from lethe.models.checkpoint import model_meta, save_checkpoint
from lethe.train import accuracy

log = logging.getLogger(__name__)


def train_sisa(
    npz_path: str | Path,
    manifest_path: str | Path,
    arch: str,
    seed: int,
    params: dict,
    out: str | Path,
    stages_out: str | Path,
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Train SISA's sharded ensemble on the whole training set (:func:`lethe.methodkit.sharding.train_sisa`).

    Writes the ensemble (safetensors + sidecar) and its shard assignment and per-stage
    checkpoints (``stages_out``), from which the ``sisa`` method unlearns.
    """
    dev, precision, dataset = runtime.start_training(npz_path, manifest_path, seed)
    warm_up(dev)
    started = time.perf_counter()
    ensemble, results = train_ensemble(
        dataset.train, arch, tuple(dataset.manifest["shape"]), dataset.num_classes, params, seed,
        amp=runtime.amp, memory_format=runtime.memory_format,
    )  # fmt: skip
    synchronize(dev)
    seconds = time.perf_counter() - started
    meta = {
        **model_meta(arch, dataset, seed),
        "method": "sisa_original", "params": params, "device": str(dev), "train_seconds": seconds,
        "steps": sum(r.steps for r in results), "samples": sum(r.samples for r in results),
        "acc_test": accuracy(ensemble, dataset.test),
        "acc_test_members": [accuracy(m, dataset.test) for m in ensemble.members],
        "amp": precision, "memory_format": memory_format_name(ensemble),
    }  # fmt: skip
    log.info(
        "SISA original: test accuracy %.4f (members %s), %.1fs", meta["acc_test"], meta["acc_test_members"], seconds
    )
    save_checkpoint(ensemble, out, meta, stages_path=stages_out)
    return meta


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    arch, params, out, runtime = job.wildcards.arch, job.params, job.output, Runtime.from_job(job)
    train_sisa(*job.dataset, arch, job.seed, params.hyper, out.model, out.stages, runtime=runtime)
