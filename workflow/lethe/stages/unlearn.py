"""Rule unlearn: one method on one forget set, from its original model."""

from __future__ import annotations

from pathlib import Path

from lethe.data.tensors import load_dataset
from lethe.device import DEFAULT_RUNTIME, Runtime, prepare_model
from lethe.io import read_json, write_json
from lethe.models.checkpoint import load_checkpoint, save_checkpoint
from lethe.tuning import values as tuned
from lethe.unlearning import run_unlearning


def unlearn(
    method: str,
    npz_path: str | Path,
    manifest_path: str | Path,
    forget_path: str | Path,
    original_path: str | Path,
    params: dict,
    seed: int,
    out_model: str | Path,
    out_record: str | Path,
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Run ``method``; save the unlearned model and its run record (time, steps, precision)."""
    dev, _ = runtime.start()  # a bad amp value fails before any work
    dataset = load_dataset(npz_path, manifest_path, dev)
    forget = read_json(forget_path)
    original, meta = load_checkpoint(original_path, dev)
    original = prepare_model(original, dev, runtime.memory_format)
    model, record = run_unlearning(
        method, original, dataset, forget, params, arch=meta["arch"], seed=seed, device=dev,
        amp=runtime.amp, memory_format=runtime.memory_format,
    )  # fmt: skip
    record.update({"dataset": dataset.name, "original": str(original_path)})
    save_checkpoint(
        model,
        out_model,
        {
            **{k: meta[k] for k in ("arch", "shape", "num_classes", "classes", "dataset", "seed")},
            "method": method,
            "forget_set": forget["id"],
            "params": params,
        },
    )
    write_json(out_record, record)
    return record


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    method = job.wildcards.method
    params = tuned.with_search(job.params.hyper, job.input.get("tuned"), method)
    inputs = (*job.dataset, job.input.forget_set, job.input.original)
    unlearn(method, *inputs, params, job.seed, job.output.model, job.output.run, runtime=Runtime.from_job(job))
