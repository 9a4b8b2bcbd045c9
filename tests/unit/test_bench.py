"""The benchmarks of bench/ (python -m bench): they run, record what they claim, compute right.

No timing is asserted (STYLE: speed lives in benchmarks): the loader benchmark runs a
few steps on the embedded digits; the methods benchmark reads a synthetic completed run
whose ratios are known; the DAG benchmark's generated config validates against the
schema and plans the expected runs. No Snakemake process is started.
"""

from __future__ import annotations

import copy
import csv
import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[2]
SCHEMA = str(REPO / "config" / "schema.yaml")
sys.path.insert(0, str(REPO))

from bench import dag, loader, methods, population  # noqa: E402
from bench.__main__ import BENCHMARKS, build_parser  # noqa: E402
from helpers.digits_sizes import N_TRAIN  # noqa: E402

from lethe.io import write_json  # noqa: E402
from lethe.methods.catalog import method_info  # noqa: E402
from lethe.plan.experiment import Plan  # noqa: E402


def run_bench(argv: list[str]) -> dict:
    """Run ``python -m bench ARGV`` in this process; return its JSON record (``--out`` must be in ARGV)."""
    args = build_parser().parse_args(argv)
    out = BENCHMARKS[args.benchmark].main(args, argv)
    return json.loads(Path(out).read_text())


# --------------------------------------------------------------------------- loader


def test_loader_runs_end_to_end_and_records_its_setting(digits_files, tmp_path):
    npz, _, _ = digits_files
    out = tmp_path / "loader.json"
    # fmt: off
    argv = [
        "loader", "--dataset", "digits", "--arch", "mlp", "--device", "cpu", "--threads", "1",
        "--batch-size", "32", "--steps", "3", "--warmup-steps", "1", "--repeats", "2",
        "--data-dir", str(npz.parent), "--prepare-dir", str(tmp_path / "unused"), "--out", str(out),
    ]
    # fmt: on
    record = run_bench(argv)

    assert record["benchmark"] == "loader"
    assert record["command"] == "python -m bench " + " ".join(argv)
    assert record["date"]
    env = record["environment"]
    for key in ("cpu_model", "cpu_count", "torch", "torchvision", "torch_threads", "platform", "load_average_1_5_15"):
        assert key in env, key
    assert env["device"] == "cpu" and env["torch_threads"] == 1 and "cuda_device" not in env
    settings = record["settings"]
    assert settings["steps_per_repeat"] == 3 and settings["repeats"] == 2 and settings["n_train"] == N_TRAIN
    assert set(record["results"]) == set(loader.VARIANTS)
    for name, result in record["results"].items():
        assert len(result["repeats"]) == 2, name
        # Every loop trained the same number of samples: 3 full batches.
        assert all(run["samples"] == 3 * 32 for run in result["repeats"]), name
        assert all(run["seconds"] > 0 and 0 < run["mean_loss"] < 10 for run in result["repeats"]), name
        assert result["median_samples_per_s"] > 0
        assert result["lethe_speedup"] == pytest.approx(
            record["results"]["lethe"]["median_samples_per_s"] / result["median_samples_per_s"]
        )
    assert record["results"]["lethe"]["lethe_speedup"] == pytest.approx(1.0)
    assert len(record["markdown"].splitlines()) == 2 + len(loader.VARIANTS)
    assert not (tmp_path / "unused").exists()  # the prepared dataset was found, not prepared again


def test_loader_prepares_a_missing_dataset_beside_its_results(tmp_path):
    npz, manifest = loader.dataset_files("digits", tmp_path / "absent", tmp_path / "prepared", loader.IDX_FOLDER)
    assert npz == tmp_path / "prepared" / "digits.npz" and npz.is_file() and manifest.is_file()


def test_torchvision_style_dataset_serves_lethes_tensors(digits_files, digits):
    """The DataLoader baselines train on exactly the data fit sees (same normalisation)."""
    npz, manifest_path, manifest = digits_files
    dataset = loader.vision_dataset(npz, manifest)
    assert len(dataset) == len(digits.train)
    for index in (0, 5, len(dataset) - 1):
        image, label = dataset[index]
        assert image.shape == digits.train.x[index].shape and image.dtype == torch.float32
        torch.testing.assert_close(image, digits.train.x[index], atol=1e-5, rtol=0)
        assert label == int(digits.train.y[index])


# --------------------------------------------------------------------------- methods

RUN_CONFIG = {
    "name": "benchtest",
    "datasets": ["digits"],
    "archs": ["mlp"],
    "seeds": [0, 1],
    "forget_sets": {
        "class3": {"kind": "classes", "classes": [3]},
        "random10": {"kind": "random_samples", "fraction": 0.1, "seed": 0},
    },
    "methods": ["retrain", "finetune", "zero_output"],
}
# Per (seed, forget set): retrain's and finetune's seconds (run record) and job seconds (TSV).
RETRAIN = {
    (0, "class3"): (2.0, 10.0),
    (1, "class3"): (4.0, 20.0),
    (0, "random10"): (1.0, 8.0),
    (1, "random10"): (2.0, 8.0),
}
FINETUNE = {
    (0, "class3"): (1.0, 5.0),
    (1, "class3"): (1.0, 5.0),
    (0, "random10"): (0.5, 2.0),
    (1, "random10"): (0.1, 4.0),
}
ZERO_OUTPUT = {(0, "class3"): (0.002, 9.0), (1, "class3"): (0.001, 9.0)}  # class-only: no random10


def write_run(results: Path, seed: int, forget_set: str, method: str, seconds: float, job_seconds: float) -> None:
    wildcards = {"dataset": "digits", "arch": "mlp", "seed": seed, "forget_set": forget_set, "method": method}
    write_json(results / methods.RECORD.format(**wildcards), {"method": method, "seconds": seconds, "device": "cpu"})
    tsv = results / methods.BENCHMARK.format(**wildcards)
    tsv.parent.mkdir(parents=True, exist_ok=True)
    with open(tsv, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["s", "h:m:s", "max_rss", "cpu_time"])
        writer.writerow([job_seconds, "0:00:01", 500.0, job_seconds / 2])


@pytest.fixture
def completed_run(tmp_path) -> tuple[Path, Path]:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(RUN_CONFIG))
    results = tmp_path / "results"
    for method, table in (("retrain", RETRAIN), ("finetune", FINETUNE), ("zero_output", ZERO_OUTPUT)):
        for (seed, forget_set), (seconds, job_seconds) in table.items():
            write_run(results, seed, forget_set, method, seconds, job_seconds)
    return config, results


def summary_of(record: dict) -> dict:
    return {(s["method"], s["kind"]): s for s in record["summary"]}


def test_methods_ratios_from_run_records_and_benchmarks(completed_run, tmp_path):
    config, results = completed_run
    out = tmp_path / "methods.json"
    record = run_bench(["methods", "--config", str(config), "--results", str(results), "--out", str(out)])

    assert record["benchmark"] == "methods" and record["complete"] and record["missing"] == []
    assert record["source"]["config_name"] == "benchtest" and record["source"]["record_devices"] == ["cpu"]
    summary = summary_of(record)
    assert set(summary) == {
        ("retrain", "classes"),
        ("retrain", "random_samples"),
        ("finetune", "classes"),
        ("finetune", "random_samples"),
        ("zero_output", "classes"),
    }
    finetune = summary[("finetune", "classes")]
    assert finetune["runs"] == finetune["measured"] == 2 and finetune["seeds"] == [0, 1]
    assert finetune["median_ratio"] == pytest.approx((0.5 + 0.25) / 2)  # 1/2 and 1/4
    assert (finetune["min_ratio"], finetune["max_ratio"]) == pytest.approx((0.25, 0.5))
    assert finetune["median_job_ratio"] == pytest.approx((0.5 + 0.25) / 2)  # 5/10 and 5/20
    assert finetune["median_seconds"] == pytest.approx(1.0)
    random = summary[("finetune", "random_samples")]
    assert random["median_ratio"] == pytest.approx((0.5 + 0.05) / 2)  # 0.5/1 and 0.1/2
    assert random["median_job_ratio"] == pytest.approx((0.25 + 0.5) / 2)  # 2/8 and 4/8
    zero = summary[("zero_output", "classes")]
    assert zero["median_ratio"] == pytest.approx((0.001 + 0.00025) / 2)
    assert summary[("retrain", "classes")]["median_ratio"] == pytest.approx(1.0)
    # One Markdown row per (method, kind), in the config's method order.
    rows = record["markdown"].splitlines()[2:]
    assert [row.split(" | ")[1] for row in rows] == ["retrain", "retrain", "finetune", "finetune", "zero_output"]


def test_methods_reports_missing_files_and_skips_their_ratios(completed_run, tmp_path):
    config, results = completed_run
    wildcards = {"dataset": "digits", "arch": "mlp", "seed": 1, "forget_set": "class3"}
    (results / methods.RECORD.format(**wildcards, method="retrain")).unlink()
    (results / methods.BENCHMARK.format(**wildcards, method="finetune")).unlink()
    record = run_bench(
        ["methods", "--config", str(config), "--results", str(results), "--out", str(tmp_path / "m.json")]
    )

    assert not record["complete"] and len(record["missing"]) == 2
    summary = summary_of(record)
    finetune = summary[("finetune", "classes")]
    assert finetune["runs"] == 2 and finetune["measured"] == 1  # seed 1 lost its retrain reference
    assert finetune["median_ratio"] == pytest.approx(0.5)
    assert finetune["median_job_ratio"] == pytest.approx(0.5)  # seed 1's finetune TSV is missing
    assert "1 of 2" in record["markdown"] and "incomplete run" in record["markdown"]


# --------------------------------------------------------------------------- dag


def expected_runs(config: dict) -> int:
    """Runs of a validated config counted from its definition: every seed and forget set,
    the original plus each method that applies (class-only methods skip random samples)."""
    per_seed = 0
    for spec in config["forget_sets"].values():
        count = spec["draws"] if spec["kind"] == "random_classes" else 1
        applicable = [
            m for m in config["methods"] if not (spec["kind"] == "random_samples" and method_info(m).class_only)
        ]
        per_seed += count * (1 + len(applicable))
    return len(config["seeds"]) * len(config["datasets"]) * len(config["archs"]) * per_seed


def test_dag_config_is_valid_and_plans_thousands_of_runs(tmp_path):
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    parser = build_parser()
    defaults = parser.parse_args(["dag"])
    large = dag.generate_config(base, defaults.seeds, defaults.draws)
    written = yaml.safe_load(dag.write_config(tmp_path / "large.yaml", large).read_text())
    assert written == large

    validate(written, SCHEMA)  # the Snakefile's check, with the schema's defaults filled in
    assert written["name"] == dag.LARGE_NAME != base["name"]
    assert written["seeds"] == list(range(defaults.seeds))
    assert written["methods"] == base["methods"] and written["method_params"] == base["method_params"]
    drawn = [spec for spec in written["forget_sets"].values() if spec["kind"] == "random_classes"]
    assert drawn and all(spec["draws"] == defaults.draws for spec in drawn)

    runs = Plan(written).runs()
    assert len(runs) == expected_runs(written) == dag.plan_runs(large)
    # Each run is an evaluate job, and each but the original's an unlearn job: several thousand jobs.
    assert len(runs) > 2000
    assert base == yaml.safe_load((REPO / "config" / "config.yaml").read_text())  # the base is not modified


def test_dag_config_keeps_the_base_unchanged_and_rejects_nonsense():
    base = copy.deepcopy(RUN_CONFIG)
    small = dag.generate_config(base, seeds=3, draws=2)
    assert base == RUN_CONFIG and small["seeds"] == [0, 1, 2]
    validate(small, SCHEMA)
    assert len(Plan(small).runs()) == expected_runs(small) == 3 * (4 + 3)
    with pytest.raises(ValueError, match="seeds and draws"):
        dag.generate_config(base, seeds=0, draws=1)


DRY_RUN_OUTPUT = """Using workflow specific profile workflow/profiles/default for setting default command line arguments.
Building DAG of jobs...
Job stats:
job                 count
----------------  -------
all                     1
evaluate             2600
unlearn              2480
total                5081

"""


def test_dag_job_count_from_the_dry_run_output():
    assert dag.count_jobs(DRY_RUN_OUTPUT) == 5081
    assert (
        dag.count_jobs("Building DAG of jobs...\nNothing to be done (all requested files are present and up to date).")
        == 0
    )
    with pytest.raises(ValueError, match="job-stats"):
        dag.count_jobs("Building DAG of jobs...\n")


# --------------------------------------------------------------------------- overhead


def write_tsv(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t100\n")


def test_overhead_report_subtracts_each_stages_own_time(tmp_path):
    """Per rule: the job's wall time (Snakemake's benchmark TSV) minus the time the stage
    recorded for its own work; a config's rules (figures, paper) are named by their file."""
    results = tmp_path / "results"
    base = "digits/mlp/seed0/class3"
    for method, wall, work in (("finetune", 1.0, 0.25), ("retrain", 2.0, 1.5)):
        write_tsv(results / f"benchmarks/unlearn/{base}/{method}.tsv", wall)
        write_json(results / f"models/{base}/{method}.run.json", {"seconds": work})
        write_tsv(results / f"benchmarks/evaluate/{base}/{method}.tsv", wall + 1)
        write_json(results / f"metrics/{base}/{method}.json", {"eval_seconds": work + 0.5})
    write_tsv(results / "benchmarks/make_forget_set/digits/class3.tsv", 0.4)
    write_tsv(results / "benchmarks/mini/figure_frontier.tsv", 3.0)
    (tmp_path / "config.yaml").write_text("name: mini\n")
    record = {
        "label": "x",
        "config": "config.yaml",
        "jobs": 6,
        "wall_seconds": 60.0,
        "snakemake_cpu_seconds": 3.0,
        "machine_busy_cpu_seconds": 100.0,
        "snakemake_cpu_share": 0.03,
    }
    write_json(results / "bench/overhead_run.json", record)
    out = run_bench(["overhead", "report", "--workdir", str(tmp_path), "--out", str(tmp_path / "o.json")])
    rules = out["rules"]
    assert rules["unlearn"]["jobs"] == 2 and rules["unlearn"]["mean_overhead_seconds"] == pytest.approx(0.625)
    assert rules["evaluate"]["mean_overhead_seconds"] == pytest.approx(1.125)
    assert rules["make_forget_set"]["mean_overhead_seconds"] == pytest.approx(0.4)  # it records no work of its own
    assert rules["figure_frontier"]["jobs"] == 1 and "mini" not in rules
    assert "3.0 %" in out["markdown"]


def test_overhead_reads_cpu_times_from_proc():
    import os

    from bench import overhead

    if not Path("/proc/stat").exists():
        pytest.skip("no /proc")
    assert overhead.process_cpu_seconds(os.getpid()) > 0
    assert overhead.machine_busy_seconds() > 0
    assert overhead.process_cpu_seconds(2**22 + 7) is None  # no such process


# --------------------------------------------------------------------------- population


def test_population_cost_from_records_benchmarks_and_quality(tmp_path):
    """Populations on seed 0 only (population.seeds 1): finetune's per-model cost is its record's
    median run and its job wall over its models; zero_output made 2 runs and says so."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**RUN_CONFIG, "population": {"models": 4, "seeds": 1}}))
    results = tmp_path / "results"
    pops = {
        ("retrain", "class3"): [1.0] * 4,
        ("retrain_twin", "class3"): [2.0] * 4,
        ("finetune", "class3"): [0.1, 0.2, 0.3, 0.4],
        ("zero_output", "class3"): [0.001, 0.003],
        ("retrain", "random10"): [1.0] * 4,
        ("retrain_twin", "random10"): [1.0] * 4,
        ("finetune", "random10"): [0.5] * 4,
    }
    for (method, forget_set), seconds in pops.items():
        wildcards = {"dataset": "digits", "arch": "mlp", "seed": 0, "forget_set": forget_set, "method": method}
        write_json(
            results / population.RECORD.format(**wildcards),
            {
                "models": 4,
                "runs_made": len(seconds),
                "deterministic": len(seconds) == 2,
                "seconds": seconds,
                "wall_seconds": 3.0,
            },
        )
        if method != "retrain":
            write_json(results / population.QUALITY.format(**wildcards), {"quality_seconds": 0.25})
        tsv = results / population.BENCHMARK.format(**wildcards)
        tsv.parent.mkdir(parents=True, exist_ok=True)
        tsv.write_text("s\th:m:s\n8.0\t0:00:08\n")
    for method, forget_set in (("finetune", "class3"), ("zero_output", "class3"), ("finetune", "random10")):
        wildcards = {"dataset": "digits", "arch": "mlp", "seed": 0, "forget_set": forget_set, "method": method}
        write_json(
            results / population.SHADOW_RECORD.format(**wildcards),
            {"models": 4, "runs_made": 4, "deterministic": False, "seconds": [0.5] * 4, "wall_seconds": 4.0},
        )
        tsv = results / population.SHADOW_BENCHMARK.format(**wildcards)
        tsv.parent.mkdir(parents=True, exist_ok=True)
        tsv.write_text("s\th:m:s\n12.0\t0:00:12\n")
    write_json(
        results / population.SHADOWS.format(dataset="digits", arch="mlp", seed=0),
        {"models": 4, "seconds": 1.5, "batched": True},
    )
    record = run_bench(
        ["population", "--config", str(config), "--results", str(results), "--out", str(tmp_path / "population.json")]
    )
    assert record["complete"], record["missing"]
    summary = {(s["method"], s["kind"]): s for s in record["summary"] if s["originals"] == "fixed"}
    assert {"retrain", "retrain_twin", "finetune", "zero_output"} == {m for m, _ in summary}
    shadow = {(s["method"], s["kind"]): s for s in record["summary"] if s["originals"] == "shadow"}
    assert set(shadow) == {("finetune", "classes"), ("zero_output", "classes"), ("finetune", "random_samples")}
    assert (
        shadow[("finetune", "classes")]["job_seconds_per_model"] == 3.0
        and not shadow[("zero_output", "classes")]["deterministic"]
    )
    assert record["shadow_originals"] == [
        {"dataset": "digits", "arch": "mlp", "seed": 0, "models": 4, "seconds": 1.5, "batched": True}
    ]
    finetune = summary[("finetune", "classes")]
    assert finetune["method_seconds"] == pytest.approx(0.25) and finetune["job_seconds_per_model"] == 2.0
    assert finetune["quality_seconds"] == 0.25 and not finetune["deterministic"]
    assert (
        summary[("zero_output", "classes")]["deterministic"]
        and summary[("retrain", "classes")]["quality_seconds"] is None
    )
    assert "zero_output (deterministic: 2 runs)" in record["markdown"]


def test_outputs_digest_ignores_time_and_nothing_else(tmp_path: Path):
    """bench outputs: two runs that differ only in time fields list the same; any other value differs."""
    from bench import outputs

    def listing(record: dict, weights: bytes) -> list:
        (tmp_path / "results/metrics").mkdir(parents=True, exist_ok=True)
        (tmp_path / "results/models").mkdir(parents=True, exist_ok=True)
        (tmp_path / "results/metrics/m.json").write_text(json.dumps(record))
        (tmp_path / "results/models/m.safetensors").write_bytes(weights)
        (tmp_path / "results/tables").mkdir(exist_ok=True)
        (tmp_path / "results/tables/t.csv").write_text(str(record))  # not a computed artefact: not listed
        return outputs.listing(tmp_path)

    base = {
        "metrics": {"acc": 0.5, "unlearn_seconds": 1.0, "time_ratio_to_retrain": 0.1},
        "seconds": 3.0,
        "eval_seconds_by_family": {"mia": 0.2},
    }
    first = listing(base, b"w")
    assert [path for _, path in first] == ["results/models/m.safetensors", "results/metrics/m.json"]
    timed = {
        "metrics": {"acc": 0.5, "unlearn_seconds": 9.0, "time_ratio_to_retrain": 0.7},
        "seconds": 8.0,
        "eval_seconds_by_family": {"mia": 0.9},
    }
    assert listing(timed, b"w") == first
    assert listing({**base, "metrics": {**base["metrics"], "acc": 0.6}}, b"w") != first
    assert listing(base, b"x") != first


def test_recipes_reads_each_recipe_and_the_configs():
    from bench import recipes

    parser = __import__("argparse").ArgumentParser()
    recipes.add_arguments(parser)
    args = parser.parse_args(
        [
            "--recipe",
            "base=config",
            "--recipe",
            "aug={epochs: 1, batch_size: 8, lr: 0.1, optimizer: sgd, augment: [{flip: 0.5}]}",
        ]
    )
    config = {"train": {"epochs": 3, "batch_size": 128, "lr": 0.001, "optimizer": "adam"}}
    parsed = recipes.recipes(args, config)
    assert parsed["base"]["epochs"] == 3 and parsed["base"]["momentum"] == 0.9
    assert parsed["aug"]["augment"] == [{"flip": 0.5}] and parsed["aug"]["optimizer"] == "sgd"
    from lethe.plan.config import load_plan

    for recipe in parsed.values():  # every one is a valid train block
        assert load_plan({"train": recipe}).config["train"]["lr"] == recipe["lr"]
