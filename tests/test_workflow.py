"""Workflow tests: Snakemake on the tiny config, from a scratch working directory."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--cores", "2"]

pytestmark = pytest.mark.workflow


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run, as {rule: count}."""
    counts = {}
    table = output.split("Job stats:", 1)[1]
    for line in table.splitlines()[3:]:
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def write_config(path: Path, edit) -> Path:
    config = yaml.safe_load(TINY.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config))
    return path


def copy_repository(dest: Path) -> Path:
    """A copy of the working tree (tracked and untracked, not ignored files), so tests may touch it."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A copy of the repository in which the tiny config has run to the PDF."""
    if shutil.which("latexmk") is None:
        pytest.skip("latexmk is not installed (make setup installs it)")
    workdir = copy_repository(tmp_path_factory.mktemp("repo"))
    snakemake(workdir, "--configfile", str(TINY))
    return workdir


def test_tiny_run_produces_paper_and_tables(tiny_run: Path):
    pdf = tiny_run / "results/paper/tiny/paper.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    tidy = pd.read_csv(tiny_run / "results/tables/tiny/metrics.csv")
    # original + 4 methods on class3, original + 3 methods on random10 (zero_output is class-only)
    runs = tidy[["forget_set", "method"]].drop_duplicates()
    assert len(runs) == 9
    assert set(runs[runs.forget_set == "random10"].method) == {"original", "retrain", "finetune", "neggrad"}
    acc_f = tidy[(tidy.metric == "acc_forget") & (tidy.forget_set == "class3")].set_index("method").value
    assert acc_f["retrain"] == 0.0  # never saw class 3
    assert acc_f["original"] > 0.8
    for rule in ("train_original", "unlearn", "evaluate"):
        assert any((tiny_run / "results/logs" / rule).rglob("*.log")), rule
        assert any((tiny_run / "results/benchmarks" / rule).rglob("*.tsv")), rule


def test_rerun_has_nothing_to_do(tiny_run: Path):
    proc = snakemake(tiny_run, "--configfile", str(TINY))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_hyperparameter_edit_reruns_only_that_method(tiny_run: Path, tmp_path: Path):
    changed = write_config(tmp_path / "changed.yaml", lambda c: c["method_params"]["finetune"].update(epochs=2))
    proc = snakemake(tiny_run, "--configfile", str(changed), "--dry-run", "--quiet", "rules")
    counts = job_counts(proc.stdout + proc.stderr)
    # finetune on both forget sets, its two evaluations, then the report chain.
    assert counts == {
        "unlearn": 2, "evaluate": 2, "aggregate": 1, "paper_inputs": 1, "compile_paper": 1, "all": 1, "total": 8,
    }  # fmt: skip


def test_method_code_edit_reruns_only_that_method(tiny_run: Path):
    """The unlearn rule lists the method's module as an input: editing it reruns that method only.

    (Snakemake 9 compares checksums of small inputs, so a mere touch does not count: edit it.)
    """
    module = tiny_run / "workflow/lethe/methods/neggrad.py"
    original = module.read_text()
    module.write_text(original + "\n# an edit\n")
    try:
        proc = snakemake(tiny_run, "--configfile", str(TINY), "--dry-run", "--quiet", "rules")
    finally:
        module.write_text(original)
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts == {
        "unlearn": 2, "evaluate": 2, "aggregate": 1, "paper_inputs": 1, "compile_paper": 1, "all": 1, "total": 8,
    }  # fmt: skip


def test_bad_config_names_the_key(tiny_run: Path, tmp_path: Path):
    bad = write_config(tmp_path / "bad.yaml", lambda c: c["method_params"]["finetune"].update(lrr=0.1))
    proc = snakemake(tiny_run, "--configfile", str(bad), "--dry-run", check=False)
    assert proc.returncode != 0
    assert "method_params.finetune" in proc.stderr + proc.stdout and "lrr" in proc.stderr + proc.stdout

    bad = write_config(tmp_path / "bad2.yaml", lambda c: c.update(optimiser="adam"))
    proc = snakemake(tiny_run, "--configfile", str(bad), "--dry-run", check=False)
    assert proc.returncode != 0 and "optimiser" in proc.stderr + proc.stdout


def test_lint_passes(tiny_run: Path):
    proc = snakemake(tiny_run, "--configfile", str(TINY), "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
