"""The cost of the hyperparameter searches (rule tune), read from one completed run of a config.

Nothing is run here. The config's searches are those it would run with ``tuning.source: search``
(every method with a search space that method_params leave something to search). For each,
the YAML it wrote (``results/tuned/{dataset}/{arch}/{method}-{kind}.yaml``) gives every trial's
unlearning seconds, whether it was feasible (within ``time_fraction`` of the tuning retrain) or
stopped at the time cap, and the search's wall time in its job; Snakemake's benchmark TSV gives
the whole job's wall time (loading the data and models, the trials, their scoring, Optuna's
bookkeeping). Reported per dataset, architecture, method and forget-set kind.
"""

from __future__ import annotations

import argparse
import logging
import statistics
from pathlib import Path

import yaml

from bench.common import RESULTS, command, environment, markdown_table, now, save, sig
from bench.methods import KIND_ORDER, load_config, read_benchmark

log = logging.getLogger("bench.tuning")

BENCHMARK = "benchmarks/tune/{dataset}/{arch}/{method}-{kind}.tsv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/config.yaml", help="the config whose searches ran")
    parser.add_argument("--results", default="results", help="the pipeline's results folder (default: results)")
    parser.add_argument("--out", default=None, help="JSON record (default: results/bench/tuning_{config name}.json)")


def collect(config: dict, results: Path) -> tuple[list[dict], list[str]]:
    """One row per search of the config, and the files that are missing."""
    from lethe.plan.experiment import Plan
    from lethe.tuning.values import RESULT

    searched = {**config, "tuning": {**config.get("tuning", {}), "source": "search", "per_method": {}}}
    plan = Plan(searched)
    rows, missing = [], []
    for dataset, arch, method, kind in plan.tuning.tune_jobs():
        names = {"dataset": dataset, "arch": arch, "method": method, "kind": kind}
        path = Path(RESULT.format(**names))
        path = results / path.relative_to("results")
        bench = results / BENCHMARK.format(**names)
        if not path.is_file():
            missing.append(str(path))
            continue
        record = yaml.safe_load(path.read_text())
        history = record["history"]
        rows.append(
            {
                **names,
                "trials": len(history),
                "feasible": sum(bool(t["feasible"]) for t in history),
                "aborted": sum(bool(t.get("aborted")) for t in history),
                "trial_seconds": statistics.median(t["seconds"] for t in history),
                "retrain_seconds": record["retrain_seconds"],
                "budget_seconds": record["time_budget_seconds"],
                "search_seconds": record["wall_seconds"],
                "job_seconds": read_benchmark(bench),
                "gap": record["gap"],
                "loss_shift": record.get("loss_shift"),
                "best_feasible": record["feasible"],
            }
        )
    order = list(config["methods"])
    rows.sort(key=lambda r: (r["dataset"], r["arch"], order.index(r["method"]), KIND_ORDER.index(r["kind"])))
    return rows, missing


def markdown(rows: list[dict]) -> str:
    header = [
        "dataset / arch",
        "method",
        "forget-set kind",
        "trials (feasible, stopped)",
        "trial s (median)",
        "time bound s (retrain s)",
        "job s",
        "best gap pp",
        "its loss shift",
    ]
    body = [
        [
            f"{r['dataset']} / {r['arch']}",
            r["method"],
            r["kind"],
            f"{r['trials']} ({r['feasible']}, {r['aborted']})",
            sig(r["trial_seconds"]),
            f"{sig(r['budget_seconds'])} ({sig(r['retrain_seconds'])})",
            sig(r["job_seconds"]),
            ("?" if r["gap"] is None else f"{r['gap']:.2f}") + ("" if r["best_feasible"] else " (infeasible)"),
            "–" if r["loss_shift"] is None else f"{r['loss_shift']:.1f}",
        ]
        for r in rows
    ]
    total = sum(r["job_seconds"] or 0.0 for r in rows)
    return markdown_table(header, body) + f"\n\n{len(rows)} searches, {sig(total)} job seconds in all."


def main(args, argv: list[str]) -> Path:
    started = now()
    config = load_config(args.config)
    rows, missing = collect(config, Path(args.results))
    if missing:
        log.warning("%d searches have no result (did the searches run?), e.g. %s", len(missing), missing[0])
    text = markdown(rows) + (f"\n\n(incomplete: {len(missing)} searches missing; see the JSON)" if missing else "")
    record = {
        "benchmark": "tuning",
        "date": started,
        "command": command(argv),
        "environment": environment(),
        "source": {"config": str(args.config), "config_name": config["name"]},
        "complete": not missing,
        "missing": missing,
        "searches": rows,
        "markdown": text,
    }
    out = Path(args.out) if args.out else RESULTS / f"tuning_{config['name']}.json"
    return save(out, record)
