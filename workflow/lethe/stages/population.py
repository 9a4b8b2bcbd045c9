"""Rule population: N runs of one method on one forget set (lethe.populations.runs), kept as the
forget examples' scores and the runs' accuracies (npz) with a record (JSON) naming its sha256."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from lethe.data.tensors import load_dataset
from lethe.device import DEFAULT_RUNTIME, Runtime, prepare_model
from lethe.io import atomic_path, read_json, sha256_file, write_json
from lethe.models.checkpoint import load_checkpoint
from lethe.populations.artefacts import POPULATION_ARRAYS, load_shadows
from lethe.populations.runs import run_population
from lethe.populations.shadow import shadow_model
from lethe.tuning import values as tuned

log = logging.getLogger(__name__)


def write_population(
    method: str,
    npz_path: str | Path,
    manifest_path: str | Path,
    forget_path: str | Path,
    original_path: str | Path,
    params: dict,
    seed: int,
    n: int,
    out_npz: str | Path,
    out_record: str | Path,
    runtime: Runtime = DEFAULT_RUNTIME,
    shadow_paths: tuple[str | Path, str | Path] | None = None,
) -> dict:
    """Run the population; write its arrays and its record (method, seeds, cost, sha256).

    ``shadow_paths`` (the shadow originals' weights and sidecar, rule train_shadow): run i
    starts from shadow original i instead of ``original_path``'s model.
    """
    dev, _ = runtime.start()
    dataset = load_dataset(npz_path, manifest_path, dev)
    forget = read_json(forget_path)
    original, meta = load_checkpoint(original_path, dev)
    original = prepare_model(original, dev, runtime.memory_format)
    originals = None
    if shadow_paths is not None:
        weights, shadows = load_shadows(*shadow_paths)
        if shadows["models"] < n:
            raise ValueError(f"population: {shadow_paths[1]} holds {shadows['models']} shadow originals, {n} needed; "
                             f"rebuild it (rule train_shadow)")  # fmt: skip

        def originals(i: int):
            model = shadow_model(shadows["arch"], shadows["shape"], shadows["num_classes"], weights, i, dev)
            return prepare_model(model, dev, runtime.memory_format)

    pop = run_population(
        method, original, dataset, forget, params, arch=meta["arch"], seed=seed, n=n, device=dev,
        amp=runtime.amp, memory_format=runtime.memory_format, originals=originals,
    )  # fmt: skip
    with atomic_path(out_npz) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **{key: pop[key] for key in POPULATION_ARRAYS}, seeds=np.asarray(pop["seeds"], dtype=np.int64))
    record = {
        "method": method, "dataset": dataset.name, "arch": meta["arch"], "seed": seed,
        "forget_set": forget["id"], "forget_set_name": forget["name"], "forget_kind": forget["kind"],
        "forget_classes": forget["classes"], "forget_size": forget["size"], "models": n, "params": params,
        "deterministic": pop["deterministic"], "runs_made": len(pop["seconds"]),
        "seconds": pop["seconds"], "steps": pop["steps"], "wall_seconds": pop["wall_seconds"],
        "unchanged_models": None if None in pop["unchanged"] else sum(map(bool, pop["unchanged"])),
        "device": str(dev), "original": str(original_path) if shadow_paths is None else str(shadow_paths[0]),
        "originals": "fixed" if shadow_paths is None else "shadow", "npz_sha256": sha256_file(out_npz),
    }  # fmt: skip
    write_json(out_record, record)
    log.info("population of %s on %s: %d models in %.1fs%s", method, forget["id"], n, pop["wall_seconds"],
             " (deterministic)" if pop["deterministic"] else "")  # fmt: skip
    return record


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    method = job.wildcards.method
    params = tuned.with_search(job.params.hyper, job.input.get("tuned"), method)
    inputs = (*job.dataset, job.input.forget_set, job.input.original)
    shadow = job.input.get("shadow_models")
    shadow_paths = None if shadow is None else (shadow, job.input.shadow_meta)
    out = (job.output.npz, job.output.record)
    write_population(
        method,
        *inputs,
        params,
        job.seed,
        job.params.models,
        *out,
        runtime=Runtime.from_job(job),
        shadow_paths=shadow_paths,
    )
