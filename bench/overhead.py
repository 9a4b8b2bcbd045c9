"""Job overhead: a whole run's wall time, the Snakemake process's CPU share, and per rule the job's wall time against the stage's own work.

Two steps, so that the run (long, and meant for an otherwise idle machine) and the
table (seconds) are separate:

* ``python -m bench overhead run --workdir DIR``: deletes DIR's ``results/`` and
  ``.snakemake/`` and runs the workflow there as ``make run`` does (the default profile,
  ``--configfile`` CONFIG), from the outside: wall time; the Snakemake process's own CPU
  time (``/proc/PID/stat`` utime + stime, sampled every 0.2 s; its jobs' CPU is not in
  it); and the whole machine's busy CPU time over the run (``/proc/stat``), so that the
  Snakemake share is its CPU over everything the run made the machine do. The record is
  written to DIR's ``results/bench/overhead_run.json`` (default).
* ``python -m bench overhead report --workdir DIR``: reads that record, the run's
  Snakemake benchmark TSVs (``results/benchmarks/RULE/...tsv``, column ``s``: the job's
  wall time as Snakemake saw it, start-up, imports and writing outputs included) and the
  stage's own time recorded in its outputs (``unlearn``: the run record's ``seconds``,
  the method alone; ``evaluate``: the metrics' ``eval_seconds``; ``train_original`` and
  ``train_sisa``: ``train_seconds``; ``make_forget_set`` records none, so its whole job
  is overhead, the work being an index into an array), and prints per rule: jobs, mean
  job wall, mean stage work, mean overhead (job wall minus stage work) and the rule's
  share of the run.

Overhead so defined includes loading the data and the model and writing the outputs,
which on digits take milliseconds: it is the cost of a job beyond the science it does.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.common import REPO, command, environment, fmt, git_commit, markdown_table, now, save

PROFILE = ["--workflow-profile", "workflow/profiles/default"]
RECORD = Path("results/bench/overhead_run.json")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "step",
        choices=["run", "edit", "report"],
        help="run: a clean run, measured; edit: after a run, one method's hyperparameter edited, rerun to the PDF, "
        "measured; report: the table",
    )
    parser.add_argument("--method", default="finetune", help="edit: the method whose hyperparameter changes")
    parser.add_argument(
        "--set",
        default="epochs=3",
        help="edit: KEY=VALUE (YAML) added to the method's method_params (default: epochs=3)",
    )
    parser.add_argument("--workdir", default=str(REPO), help="the checkout to run in (default: this repository)")
    parser.add_argument("--config", default="config/config.yaml", help="config file, relative to --workdir")
    parser.add_argument("--label", default=None, help="a name for this run in the table (default: the commit)")
    parser.add_argument("--keep", action="store_true", help="run: do not delete results/ and .snakemake/ first")
    parser.add_argument("--record", default=None, help=f"the run's record (default: WORKDIR/{RECORD})")
    parser.add_argument(
        "--out", default=None, help="report: JSON record (default: WORKDIR/results/bench/overhead.json)"
    )
    parser.add_argument(
        "--snakemake-args", default="", help="run: further Snakemake arguments, one string (e.g. '--scheduler greedy')"
    )


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` itself (its children's time is not included); None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle since boot (all cores, from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def measured_run(workdir: Path, argv: list[str], interval: float = 0.2) -> dict:
    """Run Snakemake with ``argv`` in ``workdir``; its wall time, own CPU and the machine's busy CPU."""
    cmd = [sys.executable, "-m", "snakemake", *argv]
    busy0, t0 = machine_busy_seconds(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    own = 0.0
    lines: list[str] = []
    import threading

    def drain():
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    while proc.poll() is None:
        seconds = process_cpu_seconds(proc.pid)
        if seconds is not None:
            own = seconds
        time.sleep(interval)
    wall = time.perf_counter() - t0
    busy = machine_busy_seconds() - busy0
    reader.join()
    output = "".join(lines)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{output[-3000:]}")
    stats = {}
    if "Job stats:" in output:
        for line in output.split("Job stats:", 1)[1].splitlines()[3:]:
            fields = line.split()
            if len(fields) != 2 or not fields[1].isdigit():
                break
            stats[fields[0]] = int(fields[1])
    jobs = None
    for line in reversed(lines):
        if "steps (100%) done" in line:
            jobs = int(line.split(" of ")[1].split()[0])
            break
    return {
        "snakemake_command": " ".join(cmd),
        "wall_seconds": wall,
        "snakemake_cpu_seconds": own,
        "machine_busy_cpu_seconds": busy,
        "snakemake_cpu_share": own / busy if busy else None,
        "jobs": jobs,
        "job_stats": stats,
    }


def run(args, argv: list[str]) -> Path:
    workdir = Path(args.workdir).resolve()
    if not args.keep:
        for name in ("results", ".snakemake"):
            shutil.rmtree(workdir / name, ignore_errors=True)
    started = now()
    env = environment()
    env["git_commit"] = git_commit(workdir)
    record = {
        "benchmark": "overhead_run",
        "date": started,
        "command": command(argv),
        "environment": env,
        "workdir": str(workdir),
        "config": args.config,
        "label": args.label or env["git_commit"],
        **measured_run(workdir, [*PROFILE, "--configfile", args.config, *shlex.split(args.snakemake_args)]),
    }
    out = Path(args.record) if args.record else workdir / RECORD
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "environment"}, indent=2))
    return out


# The stage's own time, per rule: (output glob under results/, JSON field).
STAGE_SECONDS = {
    "unlearn": ("models/**/*.run.json", "seconds"),
    "evaluate": ("metrics/**/*.json", "eval_seconds"),
    "train_original": ("models/**/original.json", "train_seconds"),
    "train_sisa": ("models/**/sisa_original.json", "train_seconds"),
}


def job_seconds(results: Path, config_name: str) -> dict[str, dict[str, float]]:
    """Per rule, per job (its benchmark file): the job's wall time. Rules of the data, models
    and metrics write ``results/benchmarks/RULE/...``; the config's own (tables, figures,
    paper) ``results/benchmarks/CONFIG_NAME/RULE.tsv``."""
    out: dict[str, dict[str, float]] = {}
    for tsv in sorted((results / "benchmarks").glob("*/**/*.tsv")):
        folder = tsv.relative_to(results / "benchmarks").parts[0]
        rule = tsv.stem if folder == config_name else folder
        with tsv.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        out.setdefault(rule, {})[str(tsv)] = float(row["s"])
    return out


def stage_seconds(results: Path, rule: str) -> list[float]:
    """The stage's own recorded time of every job of ``rule`` (empty when it records none)."""
    if rule not in STAGE_SECONDS:
        return []
    pattern, field = STAGE_SECONDS[rule]
    values = []
    for path in results.glob(pattern):
        data = json.loads(path.read_text())
        if field in data:
            values.append(float(data[field]))
    return values


def evaluation_families(results: Path) -> dict[str, list[float]]:
    """Seconds of each evaluation family (MIA, probe, distances, relearning) over every metrics JSON."""
    out: dict[str, list[float]] = {}
    for path in sorted(results.glob("metrics/**/*.json")):
        for name, seconds in json.loads(path.read_text()).get("eval_seconds_by_family", {}).items():
            out.setdefault(name, []).append(float(seconds))
    return out


def report(args, argv: list[str]) -> Path:
    workdir = Path(args.workdir).resolve()
    results = workdir / "results"
    record_path = Path(args.record) if args.record else workdir / RECORD
    run_record = json.loads(record_path.read_text())
    config_name = yaml.safe_load((workdir / run_record["config"]).read_text()).get("name", "default")
    jobs = job_seconds(results, config_name)
    rows, rules = [], {}
    for rule, walls in sorted(jobs.items()):
        work = stage_seconds(results, rule)
        mean_wall = statistics.mean(walls.values())
        mean_work = (
            statistics.mean(work) if work and len(work) == len(walls) else (0.0 if rule not in STAGE_SECONDS else None)
        )
        overhead = None if mean_work is None else mean_wall - mean_work
        rules[rule] = {
            "jobs": len(walls),
            "mean_job_wall_seconds": mean_wall,
            "total_job_wall_seconds": sum(walls.values()),
            "mean_stage_seconds": mean_work,
            "mean_overhead_seconds": overhead,
        }
        rows.append([rule, len(walls), fmt(mean_wall), fmt(mean_work), fmt(overhead), fmt(sum(walls.values()), 0)])
    total = sum(r["total_job_wall_seconds"] for r in rules.values())
    rows.append(["all rules", sum(r["jobs"] for r in rules.values()), "", "", "", fmt(total, 0)])
    header = [
        "rule",
        "jobs",
        "job wall, s (mean)",
        "stage's own work, s (mean)",
        "overhead, s (mean)",
        "job wall, s (sum)",
    ]
    families = evaluation_families(results)
    family_table = ""
    if families:
        family_rows = [
            [name, len(values), fmt(statistics.mean(values), 3), fmt(sum(values), 0)]
            for name, values in families.items()
        ]
        family_table = "\n\nEvaluation families (the metrics' `eval_seconds_by_family`):\n\n" + markdown_table(
            ["family", "evaluations", "s (mean)", "s (sum)"], family_rows
        )
    share = run_record.get("snakemake_cpu_share")
    summary = (
        f"run {run_record['label']}: {run_record['jobs']} jobs, {run_record['wall_seconds'] / 60:.1f} min wall; "
        f"Snakemake process {run_record['snakemake_cpu_seconds']:.0f} CPU-s of the machine's "
        f"{run_record['machine_busy_cpu_seconds']:.0f} busy CPU-s ({100 * share:.1f} %)"
    )
    record = {
        "benchmark": "overhead",
        "date": now(),
        "command": command(argv),
        "workdir": str(workdir),
        "run": run_record,
        "rules": rules,
        "evaluation_families": {name: statistics.mean(values) for name, values in families.items()},
        "markdown": summary + "\n\n" + markdown_table(header, rows) + family_table,
    }
    return save(Path(args.out) if args.out else results / "bench" / "overhead.json", record)


def edit(args, argv: list[str]) -> Path:
    """A researcher's loop: one method's hyperparameter changed in a copy of the config, the
    workflow rerun to the PDF; the wall time and the jobs it ran."""
    workdir = Path(args.workdir).resolve()
    config = yaml.safe_load((workdir / args.config).read_text())
    key, _, value = args.set.partition("=")
    config.setdefault("method_params", {}).setdefault(args.method, {})[key] = yaml.safe_load(value)
    edited = workdir / "results" / "bench" / "edited_config.yaml"
    edited.parent.mkdir(parents=True, exist_ok=True)
    edited.write_text(yaml.safe_dump(config, sort_keys=False))
    env = environment()
    env["git_commit"] = git_commit(workdir)
    record = {
        "benchmark": "overhead_edit",
        "date": now(),
        "command": command(argv),
        "environment": env,
        "workdir": str(workdir),
        "config": args.config,
        "edit": {args.method: {key: yaml.safe_load(value)}},
        **measured_run(workdir, [*PROFILE, "--configfile", str(edited)]),
    }
    out = Path(args.record) if args.record else workdir / "results" / "bench" / "overhead_edit.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "environment"}, indent=2))
    return out


def main(args, argv: list[str]) -> Path:
    return {"run": run, "edit": edit, "report": report}[args.step](args, argv)
