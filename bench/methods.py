"""Each method's time as a ratio to retrain, read from one completed run of a config.

Nothing is trained here: the numbers come from the run the pipeline already made
(``make run``, or ``snakemake --configfile CONFIG``), so every method was measured in the
same run, on the same machine, against the retrain of its own seed and forget set. The
config (validated with the schema, its defaults filled in, as the Snakefile does) gives
the plan (:class:`lethe.plan.Plan`); for each of its unlearning runs two files of rule
``unlearn`` (workflow/rules/unlearn.smk) are read:

* the run record ``results/models/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.run.json``,
  field ``seconds``: the method alone, clocked by :func:`lethe.unlearning.run_unlearning`
  after torch's warm-up with the data already on the device (CUDA synchronised). This
  is the ratio the evaluation reports as ``time_ratio_to_retrain``; the main column.
* Snakemake's benchmark ``results/benchmarks/unlearn/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.tsv``,
  column ``s``: the whole job's wall time, with the interpreter's start, imports,
  loading the data and the original model, and writing the outputs.

Both paths are shared by every config (only tables and the paper are per config name).
Per run, ratio = method / retrain of the same dataset, architecture, seed and forget
set; reported: the median (and range) over seeds and forget sets of one kind (classes,
random_classes, random_samples). SISA's ratio counts its unlearning only, not the
sharded training (rule ``train_sisa``) that it needs beforehand.
"""

from __future__ import annotations

import argparse
import csv
import logging
import statistics
from collections import defaultdict
from pathlib import Path

import yaml

from bench.common import REPO, RESULTS, command, environment, markdown_table, now, save, sig

log = logging.getLogger("bench.methods")

RECORD = "models/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.run.json"
BENCHMARK = "benchmarks/unlearn/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.tsv"
KIND_ORDER = ("classes", "random_classes", "random_samples")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/config.yaml", help="the config of the completed run")
    parser.add_argument("--results", default="results", help="the pipeline's results folder (default: results)")
    parser.add_argument("--out", default=None, help="JSON record (default: results/bench/methods_{config name}.json)")


def load_config(path: str | Path) -> dict:
    """The config as the Snakefile sees it: validated against config/schema.yaml, defaults filled in."""
    from snakemake.utils import validate

    from lethe.plan.experiment import canonical

    config = yaml.safe_load(Path(path).read_text()) or {}
    validate(config, str(REPO / "config" / "schema.yaml"))
    return canonical(config)


def read_record(path: Path) -> dict | None:
    from lethe.io import read_json

    return read_json(path) if path.is_file() else None


def read_benchmark(path: Path) -> float | None:
    """Wall seconds (column ``s``) of a Snakemake benchmark TSV; the median if it holds repeats."""
    if not path.is_file():
        return None
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return statistics.median(float(row["s"]) for row in rows) if rows else None


def collect(config: dict, results: Path) -> tuple[list[dict], list[str]]:
    """One row per unlearning run of the plan (retrain included), and the files that are missing."""
    from lethe.plan.experiment import Plan
    from lethe.plan.paths import ORIGINAL

    plan = Plan(config)
    rows, missing = [], []
    for run in plan.runs():
        if run.method == ORIGINAL:
            continue
        record_path = results / RECORD.format(**run.wildcards)
        benchmark_path = results / BENCHMARK.format(**run.wildcards)
        record = read_record(record_path)
        row = {
            **run.wildcards,
            "kind": plan.forget_spec(run.forget_set)["kind"],
            "seconds": None if record is None else float(record["seconds"]),
            "device": None if record is None else record.get("device"),
            "job_seconds": read_benchmark(benchmark_path),
        }
        if record is None:
            missing.append(str(record_path))
        if row["job_seconds"] is None:
            missing.append(str(benchmark_path))
        rows.append(row)
    return rows, missing


def with_ratios(rows: list[dict]) -> list[dict]:
    """Each row with ``ratio`` (run record) and ``job_ratio`` (benchmark TSV) to retrain of its seed and forget set."""
    retrain = {(r["dataset"], r["arch"], r["seed"], r["forget_set"]): r for r in rows if r["method"] == "retrain"}

    def ratio(value, reference):
        return None if value is None or reference is None or reference <= 0 else value / reference

    out = []
    for row in rows:
        ref = retrain.get((row["dataset"], row["arch"], row["seed"], row["forget_set"]), {})
        out.append(
            {
                **row,
                "ratio": ratio(row["seconds"], ref.get("seconds")),
                "job_ratio": ratio(row["job_seconds"], ref.get("job_seconds")),
            }
        )
    return out


def summarise(rows: list[dict], methods: list[str]) -> list[dict]:
    """Median (min, max) ratio per dataset, architecture, method and forget-set kind, over seeds and forget sets."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["dataset"], row["arch"], row["method"], row["kind"])].append(row)

    def order(key):
        dataset, arch, method, kind = key
        return (dataset, arch, methods.index(method) if method in methods else len(methods), KIND_ORDER.index(kind))

    summary = []
    for key in sorted(groups, key=order):
        members = groups[key]
        ratios = [r["ratio"] for r in members if r["ratio"] is not None]
        job_ratios = [r["job_ratio"] for r in members if r["job_ratio"] is not None]
        seconds = [r["seconds"] for r in members if r["seconds"] is not None]
        dataset, arch, method, kind = key
        summary.append(
            {
                "dataset": dataset,
                "arch": arch,
                "method": method,
                "kind": kind,
                "forget_sets": sorted({r["forget_set"] for r in members}),
                "seeds": sorted({r["seed"] for r in members}),
                "runs": len(members),
                "measured": len(ratios),
                "median_ratio": statistics.median(ratios) if ratios else None,
                "min_ratio": min(ratios) if ratios else None,
                "max_ratio": max(ratios) if ratios else None,
                "median_job_ratio": statistics.median(job_ratios) if job_ratios else None,
                "median_seconds": statistics.median(seconds) if seconds else None,
            }
        )
    return summary


def markdown(summary: list[dict]) -> str:
    header = [
        "dataset / arch",
        "method",
        "forget-set kind",
        "runs",
        "time / retrain: median (min–max), run records",
        "job wall / retrain: median, benchmark TSVs",
        "method seconds (median)",
    ]
    rows = []
    for s in summary:
        ratio = (
            "n/a"
            if s["median_ratio"] is None
            else f"{sig(s['median_ratio'])} ({sig(s['min_ratio'])}–{sig(s['max_ratio'])})"
        )
        runs = f"{s['measured']}" if s["measured"] == s["runs"] else f"{s['measured']} of {s['runs']}"
        rows.append(
            [
                f"{s['dataset']} / {s['arch']}",
                s["method"],
                s["kind"],
                runs,
                ratio,
                sig(s["median_job_ratio"]),
                sig(s["median_seconds"]),
            ]
        )
    return markdown_table(header, rows)


def measure(args, argv: list[str]) -> dict:
    started = now()
    config = load_config(args.config)
    rows, missing = collect(config, Path(args.results))
    rows = with_ratios(rows)
    summary = summarise(rows, config["methods"])
    if missing:
        log.warning("%d of the run's files are missing (is the run complete?), e.g. %s", len(missing), missing[0])
    text = markdown(summary)
    if missing:
        text += f"\n\n(incomplete run: {len(missing)} run records or benchmark TSVs missing; see the JSON)"
    return {
        "benchmark": "methods",
        "date": started,
        "command": command(argv),
        "environment": environment(),
        "source": {
            "config": str(args.config),
            "config_name": config["name"],
            "run_records": str(Path(args.results) / RECORD),
            "benchmarks": str(Path(args.results) / BENCHMARK),
            "record_devices": sorted({r["device"] for r in rows if r.get("device")}),
        },
        "complete": not missing,
        "missing": missing,
        "summary": summary,
        "runs": rows,
        "markdown": text,
    }


def main(args, argv: list[str]) -> Path:
    record = measure(args, argv)
    out = Path(args.out) if args.out else RESULTS / f"methods_{record['source']['config_name']}.json"
    return save(out, record)
