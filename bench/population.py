"""The cost of the populations (F and U-LiRA), read from one completed run of a config.

Nothing is run here. For each population of the plan (rule ``population``,
``results/population/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.json``) the record
gives the seconds of every unlearning run it made (the method alone, clocked as rule
``unlearn`` clocks it) and the population's wall time in its job (runs, forward passes over
D_f, D_r and the test set, bookkeeping); Snakemake's benchmark TSV gives the whole job's wall
time. For each comparison with retrain (rule ``forgetting_quality``) the metrics JSON gives
``quality_seconds`` (ε, F, U-LiRA and their bootstraps). Reported per dataset, architecture,
method and forget-set kind: the models per population, the median seconds per model (method
alone, and the whole population job divided by its models), the median job wall time per
forget set, and the median comparison time.
"""

from __future__ import annotations

import argparse
import logging
import statistics
from collections import defaultdict
from pathlib import Path

from bench.common import RESULTS, command, environment, markdown_table, now, save, sig
from bench.methods import KIND_ORDER, load_config, read_benchmark, read_record

log = logging.getLogger("bench.population")

RECORD = "population/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.json"
SHADOW_RECORD = "population/{dataset}/{arch}/seed{seed}/{forget_set}/shadow/{method}.json"
SHADOW_BENCHMARK = "benchmarks/population_shadow/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.tsv"
SHADOWS = "shadow/{dataset}/{arch}/seed{seed}/shadow.json"
QUALITY = "population/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.quality.json"
BENCHMARK = "benchmarks/population/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.tsv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/config.yaml", help="the config of the completed run")
    parser.add_argument("--results", default="results", help="the pipeline's results folder (default: results)")
    parser.add_argument(
        "--out", default=None, help="JSON record (default: results/bench/population_{config name}.json)"
    )


def collect(config: dict, results: Path) -> tuple[list[dict], list[str]]:
    """One row per population of the plan, and the files that are missing."""
    from lethe.plan.experiment import Plan

    plan = Plan(config)
    rows, missing = [], []
    for originals, runs, record_path, benchmark_path in (
        ("fixed", plan.population_runs(), RECORD, BENCHMARK),
        ("shadow", plan.shadow_runs(), SHADOW_RECORD, SHADOW_BENCHMARK),
    ):
        for run in runs:
            row, lost = _row(plan, run, results, originals, record_path, benchmark_path)
            rows.append(row)
            missing += lost
    return rows, missing


def _row(plan, run, results: Path, originals: str, record_path: str, benchmark_path: str) -> tuple[dict, list[str]]:
    """One population's costs; the comparison with retrain (quality) is read for the fixed-original populations."""
    compared = run.method != "retrain" and originals == "fixed"
    paths = {
        "record": results / record_path.format(**run.wildcards),
        "benchmark": results / benchmark_path.format(**run.wildcards),
    }
    if compared:
        paths["quality"] = results / QUALITY.format(**run.wildcards)
    record = read_record(paths["record"])
    quality = read_record(paths["quality"]) if compared else None
    row = {
        **run.wildcards,
        "kind": plan.forget_spec(run.forget_set)["kind"],
        "originals": originals,
        "models": None if record is None else record["models"],
        "runs_made": None if record is None else record["runs_made"],
        "deterministic": None if record is None else record["deterministic"],
        "method_seconds": None if record is None else statistics.median(record["seconds"]),
        "population_seconds": None if record is None else record["wall_seconds"],
        "job_seconds": read_benchmark(paths["benchmark"]),
        "quality_seconds": None if quality is None else quality["quality_seconds"],
    }
    return row, [str(p) for p in paths.values() if not p.is_file()]


def shadow_trainings(config: dict, results: Path) -> list[dict]:
    """The shadow originals' training time per dataset/arch/seed (rule train_shadow's sidecar)."""
    from lethe.plan.experiment import Plan

    plan = Plan(config)
    out = []
    for dataset, arch, seed in dict.fromkeys((r.dataset, r.arch, r.seed) for r in plan.shadow_runs()):
        meta = read_record(results / SHADOWS.format(dataset=dataset, arch=arch, seed=seed))
        if meta is not None:
            out.append(
                {
                    "dataset": dataset,
                    "arch": arch,
                    "seed": seed,
                    "models": meta["models"],
                    "seconds": meta["seconds"],
                    "batched": meta["batched"],
                }
            )
    return out


def summarise(rows: list[dict], methods: list[str]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["dataset"], row["arch"], row["method"], row["kind"], row["originals"])].append(row)
    order = [*methods, "retrain_twin"]

    def key(k):
        return (k[0], k[1], k[4], order.index(k[2]) if k[2] in order else len(order), KIND_ORDER.index(k[3]))

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    out = []
    for k in sorted(groups, key=key):
        members = groups[k]
        per_model = [r["job_seconds"] / r["models"] for r in members if r["job_seconds"] and r["models"]]
        out.append(
            {
                "dataset": k[0],
                "arch": k[1],
                "method": k[2],
                "kind": k[3],
                "originals": k[4],
                "populations": len(members),
                "models": median([r["models"] for r in members]),
                "deterministic": any(r["deterministic"] for r in members),
                "method_seconds": median([r["method_seconds"] for r in members]),
                "job_seconds_per_model": median(per_model),
                "job_seconds": median([r["job_seconds"] for r in members]),
                "quality_seconds": median([r["quality_seconds"] for r in members]),
            }
        )
    return out


def markdown(summary: list[dict]) -> str:
    header = [
        "dataset / arch",
        "method",
        "forget-set kind",
        "originals",
        "populations × models",
        "method s per model (median)",
        "job s per model",
        "job s per population (forget set)",
        "F and U-LiRA s",
    ]
    rows = [
        [
            f"{s['dataset']} / {s['arch']}",
            s["method"] + (" (deterministic: 2 runs)" if s["deterministic"] else ""),
            s["kind"],
            s["originals"],
            f"{s['populations']} × {s['models']}",
            sig(s["method_seconds"]),
            sig(s["job_seconds_per_model"]),
            sig(s["job_seconds"]),
            sig(s["quality_seconds"]),
        ]
        for s in summary
    ]
    return markdown_table(header, rows)


def main(args, argv: list[str]) -> Path:
    started = now()
    config = load_config(args.config)
    rows, missing = collect(config, Path(args.results))
    summary = summarise(rows, config["methods"])
    if missing:
        log.warning("%d of the run's files are missing (is the run complete?), e.g. %s", len(missing), missing[0])
    shadows = shadow_trainings(config, Path(args.results))
    text = markdown(summary)
    if shadows:
        text += "\n\nShadow originals: " + "; ".join(
            f"{t['dataset']}/{t['arch']} seed {t['seed']}: {t['models']} in {sig(t['seconds'])} s"
            f"{' (batched)' if t['batched'] else ''}"
            for t in shadows
        )
    text += f"\n\n(incomplete run: {len(missing)} files missing; see the JSON)" if missing else ""
    record = {
        "benchmark": "population",
        "date": started,
        "command": command(argv),
        "environment": environment(),
        "source": {"config": str(args.config), "config_name": config["name"]},
        "complete": not missing,
        "missing": missing,
        "summary": summary,
        "shadow_originals": shadows,
        "runs": rows,
        "markdown": text,
    }
    out = Path(args.out) if args.out else RESULTS / f"population_{config['name']}.json"
    return save(out, record)
