"""Rule tune: the hyperparameter search of one method for one dataset, architecture and forget-set
kind (lethe.tuning.search), on the tuning seed's original and retrained model; writes lethe.tuning.values's YAML."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import yaml

from lethe.data.tensors import load_dataset
from lethe.device import DEFAULT_RUNTIME, Runtime, prepare_model
from lethe.io import read_json, sha256_file, write_atomic
from lethe.methods.catalog import METHODS
from lethe.models.checkpoint import load_checkpoint
from lethe.tuning import values as tuned
from lethe.tuning.search import search

log = logging.getLogger(__name__)


def study_key(inputs: list[str | Path], settings: dict) -> str:
    """The study's name in its SQLite file: a digest of every input file and of the settings that
    shape the trials (not their number: more trials resume the same study and add to it). A rerun
    after a change of code, data, model or settings starts a fresh study instead of resuming a stale one."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()[:16]


def tune(
    method: str,
    kind: str,
    npz_path: str | Path,
    manifest_path: str | Path,
    forget_path: str | Path,
    original_path: str | Path,
    retrain_path: str | Path,
    retrain_run_path: str | Path,
    params: dict,
    searched: list[str],
    fixed: dict,
    trials: int,
    time_fraction: float,
    seed: int,
    out: str | Path,
    studies: str | Path,
    code_inputs: list[str | Path] = (),
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Search ``method``'s hyperparameters ``searched`` (the catalogue's dimensions) starting from
    ``params``; write the tuned YAML (:func:`lethe.tuning.values.record`) to ``out``."""
    dev, _ = runtime.start()
    space = {key: METHODS[method].search_space[key] for key in searched}
    dataset = load_dataset(npz_path, manifest_path, dev)
    forget = read_json(forget_path)
    original, meta = load_checkpoint(original_path, dev)
    original = prepare_model(original, dev, runtime.memory_format)
    retrained, _ = load_checkpoint(retrain_path, dev)
    retrained = prepare_model(retrained, dev, runtime.memory_format)
    retrain_seconds = float(read_json(retrain_run_path)["seconds"])
    settings = {
        "method": method, "kind": kind, "params": params, "space": {k: d.describe() for k, d in space.items()},
        "time_fraction": time_fraction, "seed": seed, "amp": runtime.amp, "memory_format": runtime.memory_format,
    }  # fmt: skip
    inputs = [npz_path, manifest_path, forget_path, original_path, retrain_path, retrain_run_path, *code_inputs]
    studies = Path(studies)
    studies.mkdir(parents=True, exist_ok=True)
    log.info(
        "tuning %s (%s forgetting, forget set %s, seed %d): %d trials over %s; time bound %.2f s (%.0f %% of retrain's %.2f s)",
        method, kind, forget["id"], seed, trials, settings["space"], time_fraction * retrain_seconds,
        100 * time_fraction, retrain_seconds,
    )  # fmt: skip
    result = search(
        method, dataset=dataset, original=original, forget=forget, retrained=retrained,
        retrain_seconds=retrain_seconds, space=space, base_params=params, trials=trials,
        time_fraction=time_fraction, seed=seed, storage=studies / f"{method}-{kind}.db", arch=meta["arch"],
        device=dev, study_name=study_key(inputs, settings), amp=runtime.amp, memory_format=runtime.memory_format,
    )  # fmt: skip
    result["fixed"] = fixed
    data = tuned.record(
        result, dataset=dataset.name, arch=meta["arch"], kind=kind, trials=trials, time_fraction=time_fraction
    )
    text = yaml.safe_dump(_plain(data), sort_keys=False)
    write_atomic(out, lambda tmp: tmp.write_text(text))
    log.info("tuning %s: best %s, objective %s%s", method, result["best"],
             "none (every trial stopped)" if result["objective"] is None else f"{result['objective']:.2f}",
             "" if result["feasible"] else " (no feasible trial)")  # fmt: skip
    return data


def _plain(value):
    """Numbers as Python floats and ints (numpy scalars are not YAML)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    tune(
        job.wildcards.method,
        job.wildcards.kind,
        job.input.npz,
        job.input.manifest,
        job.input.forget_set,
        job.input.original,
        job.input.retrain,
        job.input.retrain_run,
        job.params.hyper,
        job.params.searched,
        job.params.fixed,
        job.params.trials,
        job.params.time_fraction,
        job.params.seed,
        job.output.tuned,
        job.params.studies,
        code_inputs=[job.input.code],
        runtime=Runtime.from_job(job),
    )
