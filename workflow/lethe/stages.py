"""One function per pipeline stage: what a Snakemake rule (or the CLI) calls.

Each takes file paths and plain parameters, writes its outputs atomically, and returns
what it wrote. Nothing here knows about Snakemake. ``device``, ``amp`` and
``memory_format`` are the config's keys of those names (:mod:`lethe.device`); the
records say which precision and memory format a run actually used.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from lethe.data.datasets import load_arrays, read_manifest
from lethe.data.forget_sets import make_forget_set, retain_indices
from lethe.data.tensors import load_dataset
from lethe.device import (
    amp_dtype,
    amp_name,
    memory_format_name,
    prepare_model,
    resolve_device,
    seed_everything,
    set_threads,
    synchronize,
    warm_up,
)
from lethe.io import read_json, write_json
from lethe.metrics.evaluate import cost_metrics, evaluate_model
from lethe.models.checkpoint import load_checkpoint, save_checkpoint, sidecar_path
from lethe.models.registry import build_model
from lethe.train import fit
from lethe.unlearn import run_unlearning

log = logging.getLogger(__name__)


def write_forget_set(
    manifest_path: str | Path, npz_path: str | Path, forget_set_id: str, spec: dict, out: str | Path
) -> dict:
    manifest = read_manifest(manifest_path)
    y_train = load_arrays(npz_path)["y_train"]
    record = make_forget_set(forget_set_id, spec, y_train, int(manifest["num_classes"]), manifest["name"])
    write_json(out, record)
    log.info("forget set %s: %d training samples, classes %s", forget_set_id, record["size"], record["classes"])
    return record


def train_original(
    npz_path: str | Path,
    manifest_path: str | Path,
    arch: str,
    seed: int,
    recipe: dict,
    out: str | Path,
    device: str = "auto",
    threads: int | None = None,
    amp: bool | str = False,
    memory_format: str = "auto",
) -> dict:
    """Train the original model on the whole training set; save checkpoint and sidecar."""
    set_threads(threads)
    dev = resolve_device(device)
    precision = amp_name(amp_dtype(amp, dev))
    seed_everything(seed)
    dataset = load_dataset(npz_path, manifest_path, dev)
    model = build_model(arch, tuple(dataset.manifest["shape"]), dataset.num_classes, seed=seed)
    model = prepare_model(model, dev, memory_format)
    warm_up(dev)
    started = time.perf_counter()
    result = fit(
        model, dataset.train,
        epochs=recipe["epochs"], batch_size=recipe["batch_size"], lr=recipe["lr"],
        optimizer=recipe["optimizer"], momentum=recipe["momentum"],
        weight_decay=recipe["weight_decay"], seed=seed, name=f"original {arch} seed {seed}",
        monitor=dataset.test, amp=amp,
    )  # fmt: skip
    synchronize(dev)
    meta = {
        "arch": arch, "shape": dataset.manifest["shape"], "num_classes": dataset.num_classes,
        "classes": dataset.classes, "dataset": dataset.name, "dataset_sha256": dataset.manifest["sha256"],
        "seed": seed, "recipe": recipe, "device": str(dev), "train_seconds": time.perf_counter() - started,
        "steps": result.steps, "history": result.history,
        "amp": precision, "memory_format": memory_format_name(model),
    }  # fmt: skip
    if result.skipped_steps:
        meta["skipped_steps"] = result.skipped_steps
    save_checkpoint(model, out, meta)
    return meta


def train_sisa_original(
    npz_path: str | Path,
    manifest_path: str | Path,
    arch: str,
    seed: int,
    params: dict,
    out: str | Path,
    stages_out: str | Path,
    device: str = "auto",
    threads: int | None = None,
    amp: bool | str = False,
    memory_format: str = "auto",
) -> dict:
    """Train SISA's sharded ensemble on the whole training set (:func:`lethe.sisa.train_sisa`).

    Writes the ensemble (safetensors + sidecar) and its shard assignment and per-stage
    checkpoints (``stages_out``), from which the ``sisa`` method unlearns.
    """
    from lethe.sisa import train_sisa
    from lethe.train import accuracy

    set_threads(threads)
    dev = resolve_device(device)
    precision = amp_name(amp_dtype(amp, dev))
    seed_everything(seed)
    dataset = load_dataset(npz_path, manifest_path, dev)
    warm_up(dev)
    started = time.perf_counter()
    ensemble, results = train_sisa(
        dataset.train, arch, tuple(dataset.manifest["shape"]), dataset.num_classes, params, seed,
        amp=amp, memory_format=memory_format,
    )  # fmt: skip
    synchronize(dev)
    seconds = time.perf_counter() - started
    meta = {
        "arch": arch, "shape": dataset.manifest["shape"], "num_classes": dataset.num_classes,
        "classes": dataset.classes, "dataset": dataset.name, "dataset_sha256": dataset.manifest["sha256"],
        "seed": seed, "method": "sisa_original", "params": params, "device": str(dev), "train_seconds": seconds,
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
    device: str = "auto",
    threads: int | None = None,
    amp: bool | str = False,
    memory_format: str = "auto",
) -> dict:
    """Run ``method``; save the unlearned model and its run record (time, steps, precision)."""
    set_threads(threads)
    dev = resolve_device(device)
    amp_dtype(amp, dev)  # a bad value fails before any work
    dataset = load_dataset(npz_path, manifest_path, dev)
    forget = read_json(forget_path)
    original, meta = load_checkpoint(original_path, dev)
    original = prepare_model(original, dev, memory_format)
    model, record = run_unlearning(
        method, original, dataset, forget, params, arch=meta["arch"], seed=seed, device=dev,
        amp=amp, memory_format=memory_format,
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
    device: str = "auto",
    threads: int | None = None,
    original_path: str | Path | None = None,
    retrain_path: str | Path | None = None,
    settings: dict | None = None,
    seed: int | None = None,
    amp: bool | str = False,
    memory_format: str = "auto",
) -> dict:
    """Evaluate one model on one forget set; write the metrics JSON.

    ``method`` defaults to the one named in the model's sidecar (``original`` if none).
    ``original_path`` (relearn target) and ``retrain_path`` (distance reference) enable
    those metrics; the random reference model is built from the run's seed.
    """
    from lethe.metrics.distance import random_model

    if Path(out).resolve() == sidecar_path(model_path).resolve():
        raise ValueError(f"metrics output {out} would overwrite the model's sidecar; choose another name")
    set_threads(threads)
    dev = resolve_device(device)
    precision = amp_name(amp_dtype(amp, dev))

    def load(path: str | Path):
        model, meta = load_checkpoint(path, dev)
        return prepare_model(model, dev, memory_format), meta

    dataset = load_dataset(npz_path, manifest_path, dev)
    forget = read_json(forget_path)
    model, meta = load(model_path)
    method = method or meta.get("method", "original")
    seed = int(meta["seed"] if seed is None else seed)
    original = load(original_path)[0] if original_path else None
    retrain = load(retrain_path)[0] if retrain_path else None
    reference = random_model(meta["arch"], tuple(meta["shape"]), int(meta["num_classes"]), seed)
    reference = prepare_model(reference, dev, memory_format)
    warm_up(dev)
    result = evaluate_model(
        model, dataset, forget, batch_size, seed=seed, original=original, retrain=retrain,
        random=reference, settings=settings, amp=amp,
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


# --------------------------------------------------------------------------- report


def aggregate(
    metrics_paths: list[str | Path], out_tidy: str | Path, out_summary: str | Path, out_paired: str | Path | None = None
) -> None:
    """Tidy CSV (one row per run and metric, plus each run's avg gap to retrain), its
    mean/std/n summary, and paired comparisons with retrain (per seed and draw)."""
    import pandas as pd

    from lethe.metrics.stats import avg_gap, paired_vs_retrain
    from lethe.report.aggregate import collect, summarise, write_csv

    tidy = collect(metrics_paths)
    tidy = pd.concat([tidy, avg_gap(tidy)], ignore_index=True)
    write_csv(tidy, out_tidy)
    write_csv(summarise(tidy), out_summary)
    if out_paired is not None:
        metrics = ["acc_forget", "acc_retain", "acc_test_retained", "mia_entropy", "avg_gap"]
        present = [m for m in metrics if m in set(tidy["metric"])]
        paired = [paired_vs_retrain(tidy, m).assign(metric=m) for m in present]
        write_csv(pd.concat(paired, ignore_index=True) if paired else pd.DataFrame(), out_paired)
    log.info("aggregated %d metrics files into %d rows", len(metrics_paths), len(tidy))


def paper_inputs(
    tidy_csv: str | Path,
    summary_csv: str | Path,
    config: dict,
    method_params: dict,
    manifest_paths: list,
    forget_paths: list,
    original_meta_paths: list,
    outputs: dict[str, str | Path],
) -> None:
    """The generated LaTeX the paper inputs.

    ``outputs`` maps ``table`` (all methods), ``families`` (a subsection and table per
    method family), ``costs`` (time against the number of forgotten classes), ``numbers``
    (macros) and ``setup`` (the experimental-setup section) to paths.
    """
    import pandas as pd

    from lethe.io import atomic_path
    from lethe.report.latex import (
        HIDING_CAPTION,
        HIDING_COLUMNS,
        cost_table,
        family_sections,
        number_macros,
        scenario_tables,
    )
    from lethe.report.setup import setup_section

    tidy = pd.read_csv(tidy_csv)
    summary = pd.read_csv(summary_csv)
    texts = {
        "table": lambda: scenario_tables(summary),
        "hiding": lambda: scenario_tables(summary, HIDING_COLUMNS, HIDING_CAPTION, "tab:hiding"),
        "families": lambda: family_sections(summary),
        "costs": lambda: cost_table(tidy),
        "numbers": lambda: number_macros(summary, config),
        "setup": lambda: setup_section(
            config, method_params, [read_json(p) for p in manifest_paths],
            [read_json(p) for p in forget_paths], [read_json(p) for p in original_meta_paths],
        ),
    }  # fmt: skip
    unknown = set(outputs) - set(texts)
    if unknown:
        raise ValueError(f"paper_inputs: unknown outputs {sorted(unknown)}; known: {sorted(texts)}")
    for key, path in outputs.items():
        text = texts[key]()
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)


def compile_paper(
    source_dir: str | Path,
    generated_dir: str | Path,
    build_dir: str | Path,
    pdf_out: str | Path,
    figures_dir: str | Path | None = None,
) -> Path:
    from lethe.report.paper import build_paper

    return build_paper(source_dir, generated_dir, build_dir, pdf_out, figures_dir=figures_dir)
