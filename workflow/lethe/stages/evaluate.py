"""Rule evaluate: the metrics of one model (original or unlearned) on one forget set."""

from __future__ import annotations

import logging
from pathlib import Path

from lethe.data.forget_sets import retain_indices
from lethe.data.tensors import load_dataset
from lethe.device import DEFAULT_RUNTIME, Runtime, prepare_model, warm_up
from lethe.io import read_json, write_json
from lethe.metrics.distance import random_model
from lethe.metrics.evaluate import cost_metrics, evaluate_model
from lethe.models.checkpoint import load_checkpoint, sidecar_path
from lethe.populations.artefacts import load_reference

log = logging.getLogger(__name__)


def evaluate(
    model_path: str | Path,
    npz_path: str | Path,
    manifest_path: str | Path,
    forget_path: str | Path,
    out: str | Path,
    run_path: str | Path | None = None,
    retrain_run_path: str | Path | None = None,
    method: str | None = None,
    batch_size: int = 1024,
    original_path: str | Path | None = None,
    retrain_path: str | Path | None = None,
    reference_paths: tuple[str | Path, str | Path] | None = None,
    settings: dict | None = None,
    seed: int | None = None,
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Evaluate one model on one forget set; write the metrics JSON.

    ``method`` defaults to the one named in the model's sidecar (``original`` if none).
    ``original_path`` (relearn target) and ``retrain_path`` (distance reference) enable
    those metrics; the random reference model is built from the run's seed;
    ``reference_paths`` (the reference models' scores and sidecar) enable LiRA.
    """
    if Path(out).resolve() == sidecar_path(model_path).resolve():
        raise ValueError(f"metrics output {out} would overwrite the model's sidecar; choose another name")
    dev, precision = runtime.start()

    def load(path: str | Path):
        model, meta = load_checkpoint(path, dev)
        return prepare_model(model, dev, runtime.memory_format), meta

    dataset = load_dataset(npz_path, manifest_path, dev)
    forget = read_json(forget_path)
    model, meta = load(model_path)
    method = method or meta.get("method", "original")
    seed = int(meta["seed"] if seed is None else seed)
    original = load(original_path)[0] if original_path else None
    retrain = load(retrain_path)[0] if retrain_path else None
    reference = random_model(meta["arch"], tuple(meta["shape"]), int(meta["num_classes"]), seed)
    reference = prepare_model(reference, dev, runtime.memory_format)
    lira_reference = load_reference(*reference_paths) if reference_paths else None
    warm_up(dev)
    result = evaluate_model(
        model, dataset, forget, batch_size, seed=seed, original=original, retrain=retrain,
        random=reference, reference=lira_reference, settings=settings, amp=runtime.amp,
    )  # fmt: skip
    run = read_json(run_path) if run_path else None
    retrain_run = read_json(retrain_run_path) if retrain_run_path else None
    result["metrics"].update(cost_metrics(run, retrain_run))
    result.update({
        "method": method, "dataset": dataset.name, "arch": meta["arch"], "seed": seed,
        "forget_set": forget["id"], "forget_set_name": forget["name"], "forget_kind": forget["kind"],
        "forget_classes": forget["classes"], "forget_size": forget["size"],
        "retain_size": int(len(retain_indices(forget, len(dataset.train)))),
        "model": str(model_path), "settings": settings or {}, "amp": precision,
    })  # fmt: skip
    write_json(out, result)
    m = result["metrics"]
    log.info(
        "%s on %s: acc_forget %s acc_retain %s acc_test %s (evaluated in %.1fs)",
        method, forget["id"], m["acc_forget"], m["acc_retain"], m["acc_test"], result["eval_seconds"],
    )  # fmt: skip
    return result


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    inputs = job.input
    evaluate(
        inputs.model,
        *job.dataset,
        inputs.forget_set,
        job.output[0],
        run_path=inputs.get("run"),
        retrain_run_path=inputs.get("retrain_run"),
        method=job.wildcards.evaluated,
        batch_size=job.params.batch_size,
        original_path=inputs.original,
        retrain_path=inputs.retrain,
        reference_paths=(inputs.reference, inputs.reference_meta) if inputs.get("reference") else None,
        settings=job.params.settings,
        runtime=Runtime.from_job(job),
    )
