"""Workflow tests: Snakemake on the tiny config, from a scratch working directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers.repository_copy import copy_repository

from lethe.engine.stamps import STAMPS, code_inputs
from lethe.metrics.catalog import METRICS
from lethe.report.catalog import FIGURES as FIGURE_REGISTRY
from lethe.report.catalog import rule_name

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--cores", "2"]

pytestmark = pytest.mark.workflow

# The figures drawn from the tidy metrics table: any evaluation change reruns them.
TABLE_FIGURES = [rule_name(f.name) for f in FIGURE_REGISTRY.values() if f.source == "tidy"]
# Everything after the evaluations of a changed method: aggregation, the paper's tables,
# the table figures, the relearn curves and LiRA's ROC curves (every metrics JSON), the paper. The FNN curves
# (FNN's run records), the GradCAM panels and the confusion matrices (original, retrain and
# tiny.yaml's figures.methods: zero_output) are not in it: they show none of finetune or neggrad.
REPORT_CHAIN = {
    "aggregate": 1,
    "paper_inputs": 1,
    **dict.fromkeys(TABLE_FIGURES, 1),
    "figure_relearn_curves": 1,
    "figure_lira_roc": 1,
    "compile_paper": 1,
    "all": 1,
}
FIGURES = [rule_name(name) for name in FIGURE_REGISTRY]
# A method's populations on the tiny config's one seed (class3 and random10) and their comparisons with retrain's.
METHOD_POPULATIONS = {"population": 2, "population_shadow": 2, "forgetting_quality": 2}


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
    # original + 4 methods on class3, original + 3 methods on random10 (zero_output is class-only);
    # the population metrics add retrain_twin's comparison with retrain (the null), which the
    # tiny config does not run as a method.
    runs = tidy[tidy.metric == "acc_forget"][["forget_set", "method"]].drop_duplicates()
    assert len(runs) == 9
    assert set(runs[runs.forget_set == "random10"].method) == {"original", "retrain", "finetune", "neggrad"}
    acc_f = tidy[(tidy.metric == "acc_forget") & (tidy.forget_set == "class3")].set_index("method").value
    assert acc_f["retrain"] == 0.0  # never saw class 3
    assert acc_f["original"] > 0.8
    twin = tidy[tidy.method == "retrain_twin"]
    assert set(twin.forget_set) == {"class3", "random10"} and "fq_F" in set(twin.metric)
    for rule in ("train_original", "unlearn", "evaluate", "population", "population_shadow", "forgetting_quality"):
        assert any((tiny_run / "results/logs" / rule).rglob("*.log")), rule
        assert any((tiny_run / "results/benchmarks" / rule).rglob("*.tsv")), rule


def test_tiny_run_draws_every_figure(tiny_run: Path):
    figures = tiny_run / "results/paper/tiny/figures"
    names = [rule.removeprefix("figure_") for rule in FIGURES]
    for name in names:
        assert (figures / f"{name}.pdf").read_bytes()[:5] == b"%PDF-", name
        assert (figures / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    logs = tiny_run / "results/logs/tiny"
    # Nothing to show in the tiny run: no fnn, one number of forgotten classes; the figures say so.
    assert "placeholder" in (logs / "figure_fnn_curves.log").read_text()
    assert "placeholder" in (logs / "figure_cost_vs_classes.log").read_text()
    assert "placeholder" not in (logs / "figure_trade_off.log").read_text()
    assert "placeholder" not in (logs / "figure_frontier.log").read_text()  # times and avg gap of 3 methods
    assert "placeholder" not in (logs / "figure_relearn_curves.log").read_text()  # every evaluation relearns
    assert "input-gradient saliency" in (logs / "figure_gradcam.log").read_text()  # the MLP has no conv layer


def test_every_catalogued_metric_is_computed(tiny_run: Path):
    """Each metric of lethe.metrics.catalog is one the tiny run's evaluation writes (or the aggregate derives)."""
    tidy = pd.read_csv(tiny_run / "results/tables/tiny/metrics.csv")
    missing = sorted(set(METRICS) - set(tidy["metric"]))
    assert not missing, f"catalogued metrics that no run reports: {missing}"


def test_html_report(tiny_run: Path):
    report = tiny_run / "results/report.html"
    snakemake(tiny_run, "--configfile", str(TINY), "--report", str(report))
    html = report.read_text()
    for name in (
        "trade_off.png",
        "frontier.png",
        "relearn_curves.png",
        "gradcam.png",
        "summary.csv",
        "paper.pdf",
        "Forgetting or hiding",
    ):
        assert name in html, name


def test_rerun_has_nothing_to_do(tiny_run: Path):
    proc = snakemake(tiny_run, "--configfile", str(TINY))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_hyperparameter_edit_reruns_only_that_method(tiny_run: Path, tmp_path: Path):
    changed = write_config(tmp_path / "changed.yaml", lambda c: c["method_params"]["finetune"].update(epochs=2))
    proc = snakemake(tiny_run, "--configfile", str(changed), "--dry-run", "--quiet", "rules")
    counts = job_counts(proc.stdout + proc.stderr)
    # finetune on both forget sets, its two evaluations, its two populations (from the original
    # and from the shadow originals) and their comparisons with retrain's, then the report chain
    # (8 -> 13 jobs when the five table figures came, 15 with the frontier and the relearn
    # curves, 16 with LiRA's ROC curves, 23 with the populations and their figure; the other
    # three figures do not show finetune).
    assert counts == {"unlearn": 2, "evaluate": 2, **METHOD_POPULATIONS, **REPORT_CHAIN, "total": 23}


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
    assert counts == {"unlearn": 2, "evaluate": 2, **METHOD_POPULATIONS, **REPORT_CHAIN, "total": 23}


def edited_dry_run(tiny_run: Path, module: str) -> dict[str, int]:
    """Job counts of a dry run after appending a comment to ``module`` (restored afterwards)."""
    path = tiny_run / module
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        proc = snakemake(tiny_run, "--configfile", str(TINY), "--dry-run", "--quiet", "rules")
    finally:
        path.write_text(original)
    return job_counts(proc.stdout + proc.stderr)


def test_figure_method_edit_also_reruns_its_figures(tiny_run: Path):
    """zero_output (class3 only) is in tiny.yaml's figures.methods: its GradCAM panel and
    confusion matrix are redrawn too; the FNN curves are not."""
    counts = edited_dry_run(tiny_run, "workflow/lethe/methods/zero_output.py")
    assert counts == {
        "unlearn": 1,
        "evaluate": 1,
        "population": 1,
        "population_shadow": 1,
        "forgetting_quality": 1,
        **REPORT_CHAIN,
        "figure_confusion": 1,
        "figure_gradcam": 1,
        "total": 20,
    }


def test_figure_code_edit_redraws_figures_only(tiny_run: Path):
    """Editing the figures' module redraws every figure and rebuilds the paper; nothing is re-evaluated."""
    counts = edited_dry_run(tiny_run, "workflow/lethe/report/figures.py")
    assert counts == {**dict.fromkeys(FIGURES, 1), "compile_paper": 1, "all": 1, "total": len(FIGURES) + 2}


def test_bad_config_names_the_key(tiny_run: Path, tmp_path: Path):
    bad = write_config(tmp_path / "bad.yaml", lambda c: c["method_params"]["finetune"].update(lrr=0.1))
    proc = snakemake(tiny_run, "--configfile", str(bad), "--dry-run", check=False)
    assert proc.returncode != 0
    assert "method_params.finetune" in proc.stderr + proc.stdout and "lrr" in proc.stderr + proc.stdout

    bad = write_config(tmp_path / "bad2.yaml", lambda c: c.update(optimiser="adam"))
    proc = snakemake(tiny_run, "--configfile", str(bad), "--dry-run", check=False)
    assert proc.returncode != 0 and "optimiser" in proc.stderr + proc.stdout

    bad = write_config(tmp_path / "bad3.yaml", lambda c: c["figures"].update(methods=["unsir"]))
    proc = snakemake(tiny_run, "--configfile", str(bad), "--dry-run", check=False)
    output = proc.stderr + proc.stdout
    assert proc.returncode != 0 and "figures.methods" in output and "unsir" in output


def test_random_only_config_builds_its_paper(tiny_run: Path, tmp_path: Path):
    """A config whose forget sets are all random samples has no class-only metric (Acc_te,f, probes,
    cost against the number of classes) for the paper to quote: it still builds, reusing the tiny
    run's models and metrics (only the report chain of the new config runs)."""

    def random_only(config):
        config.update(name="tiny_random")
        config["forget_sets"].pop("class3")
        config["figures"]["methods"] = []  # zero_output, the tiny config's choice, forgets classes only

    random = write_config(tmp_path / "random.yaml", random_only)
    counts = job_counts(snakemake(tiny_run, "--configfile", str(random), "--dry-run", "--quiet", "rules").stdout)
    assert not {"train_original", "unlearn", "evaluate", "population", "population_shadow", "forgetting_quality"} & set(
        counts
    ), counts
    snakemake(tiny_run, "--configfile", str(random))
    assert (tiny_run / "results/paper/tiny_random/paper.pdf").read_bytes()[:5] == b"%PDF-"
    generated = tiny_run / "results/paper/tiny_random/generated"
    findings = json.loads((generated / "findings.json").read_text())
    assert findings and {f["scenario"] for f in findings} <= {None, "random10"}, findings
    # The paper's class-only parts (the hiding section, its figure) are left out, not printed empty.
    assert "lethe@if@classes" not in (generated / "findings.tex").read_text()


def test_lint_passes(tiny_run: Path):
    proc = snakemake(tiny_run, "--configfile", str(TINY), "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_searched_method_runs_with_its_search_and_the_search_resumes(tiny_run: Path, tmp_path: Path):
    """tuning.per_method {salun: search}: rule tune searches on seed 100's original and retrain and on
    seed 100's draw of random10 (none reported), and salun's runs read its YAML. Raising the trials
    resumes the search's study: the first trials are the same, one more is added. (salun is not in the
    tiny config, so the tiny run's own outputs are untouched.)"""

    def searched(trials):
        def edit(config):
            config.update(name="tiny_tune", tuning={"per_method": {"salun": "search"}, "trials": trials})
            config["methods"].append("salun")
            config["method_params"]["salun"] = {"epochs": 2}  # fixed by hand: not searched

        return write_config(tmp_path / f"search{trials}.yaml", edit)

    config = searched(2)
    counts = job_counts(
        snakemake(tiny_run, "tuned", "--configfile", str(config), "--dry-run", "--quiet", "rules").stdout
    )
    # seed 100's original, its draw of random10 (class3 is the tiny run's), two retrains, a search per kind
    assert counts == {"train_original": 1, "make_forget_set": 1, "unlearn": 2, "tune": 2, "tuned": 1, "total": 7}
    model = "results/models/digits/mlp/seed0/class3/salun.json"
    snakemake(tiny_run, "tuned", model, "--configfile", str(config))
    record = yaml.safe_load((tiny_run / "results/tuned/digits/mlp/salun-classes.yaml").read_text())
    assert record["forget_set"] == "class3" and record["seed"] == 100 and len(record["history"]) == 2
    assert set(record["best"]) == {"lr", "mask_ratio"} and record["fixed"] == {"epochs": 2}
    params = json.loads((tiny_run / model).read_text())["params"]
    assert {k: params[k] for k in record["best"]} == record["best"] and params["epochs"] == 2
    draw = json.loads((tiny_run / "results/forget_sets/digits/random10-100.json").read_text())
    reported = json.loads((tiny_run / "results/forget_sets/digits/random10.json").read_text())
    assert draw["size"] == reported["size"] and draw["indices"] != reported["indices"]

    more = searched(3)
    counts = job_counts(snakemake(tiny_run, "tuned", "--configfile", str(more), "--dry-run", "--quiet", "rules").stdout)
    assert counts == {"tune": 2, "tuned": 1, "total": 3}  # tuning.trials is a param of the searches only
    snakemake(tiny_run, "tuned", "--configfile", str(more))
    again = yaml.safe_load((tiny_run / "results/tuned/digits/mlp/salun-classes.yaml").read_text())
    assert len(again["history"]) == 3
    assert [t["params"] for t in again["history"][:2]] == [t["params"] for t in record["history"]]


def test_sisa_trains_its_own_original_only_when_it_runs(tmp_path_factory, tmp_path: Path):
    """Dry runs (no tiny run needed): `sisa` adds one train_sisa job per dataset/arch/seed, and its
    unlearn jobs start from that model and its stage checkpoints; without it there is no such job."""
    workdir = copy_repository(tmp_path_factory.mktemp("repo"))
    counts = job_counts(snakemake(workdir, "--configfile", str(TINY), "--dry-run", "--quiet", "rules").stdout)
    assert "train_sisa" not in counts
    with_sisa = write_config(tmp_path / "sisa.yaml", lambda c: c["methods"].append("sisa"))
    counts_sisa = job_counts(snakemake(workdir, "--configfile", str(with_sisa), "--dry-run", "--quiet", "rules").stdout)
    assert counts_sisa["train_sisa"] == 1
    assert counts_sisa["unlearn"] == counts["unlearn"] + 2 and counts_sisa["evaluate"] == counts["evaluate"] + 2
    target = "results/models/digits/mlp/seed0/random10/sisa.safetensors"
    proc = snakemake(workdir, "--configfile", str(with_sisa), "--dry-run", target)
    unlearn_job = proc.stdout.split("rule unlearn:", 1)[1].split("rule ", 1)[0]
    assert "seed0/sisa_original.safetensors" in unlearn_job and "seed0/sisa_original.stages.safetensors" in unlearn_job
    assert "seed0/original.safetensors" not in unlearn_job.replace("sisa_original", "")


# --------------------------------------------------------------------------- reruns and recovery

PACKAGE = REPO / "workflow" / "lethe"
METHOD_RULES = (
    "unlearn",
    "population",
    "population_shadow",
)  # rules that run a method by name: its module is in their code
MODULES = sorted(p.relative_to(REPO).as_posix() for p in PACKAGE.rglob("*.py"))
STAGE_NAMES = sorted(p.stem for p in (PACKAGE / "stages").glob("*.py") if p.stem != "__init__")


def module_representatives() -> list[str]:
    """One module per set of tiny-run stages (and, for unlearn, methods) whose derived code
    inputs list it: modules in the same set must rerun the same jobs, so one edit per set
    tests the rerun mechanism, at 29 dry runs instead of 78. Which jobs import which module
    is checked for every module, against the imports a job really makes, by
    test_code_inputs_cover_everything_a_job_imports; the rerun set below comes from the DAG."""
    methods = yaml.safe_load(TINY.read_text())["methods"]
    users: dict[str, set] = {}
    for stage in STAGE_NAMES:
        extras = [(f"lethe.methods.{m}",) for m in methods] if stage in METHOD_RULES else [()]
        for extra in extras:
            for path in code_inputs(REPO / "workflow", stage, extra, start=REPO):
                users.setdefault(path, set()).add((stage, *extra))
    groups: dict[frozenset, str] = {}
    for module in MODULES:
        groups.setdefault(frozenset(users.get(module, ())), module)
    return sorted(groups.values())


def dry_run_jobs(workdir: Path, *args: str) -> list[dict]:
    """The jobs of a dry run: rule, inputs, first output and reason of each."""
    proc = snakemake(workdir, "--configfile", str(TINY), "--dry-run", *args)
    jobs = []
    for line in proc.stdout.splitlines():
        start = re.fullmatch(r"(?:local)?rule (\w+):", line)
        if start:
            jobs.append({"rule": start.group(1), "inputs": set(), "outputs": [], "reason": ""})
        elif jobs and (field := re.fullmatch(r"    (input|output|reason): (.*)", line)):
            name, value = field.groups()
            if name == "reason":
                jobs[-1]["reason"] = value
            else:
                jobs[-1]["inputs" if name == "input" else "outputs"] = value.split(", ")
    for job in jobs:
        job["inputs"] = set(job["inputs"])
        job["key"] = f"{job['rule']}:{job['outputs'][0] if job['outputs'] else ''}"
        job["stamps"] = {p for p in job["inputs"] if p.startswith(STAMPS + "/")}
        # What the job's code stamps list (lethe.engine.stamps.code_stamp): its stage's modules.
        job["code"] = {name for stamp in job["stamps"] for name in json.loads((workdir / stamp).read_text())["code"]}
    return jobs


@pytest.fixture(scope="module")
def forced_jobs(tiny_run: Path) -> dict[str, dict]:
    """Every job of the tiny run with its inputs ({key: job}), from a forced dry run."""
    return {job["key"]: job for job in dry_run_jobs(tiny_run, "--forceall")}


# What each rule's stage imports when it runs, observed: one process imports every stage
# module (and every method module, which `unlearn` imports by name) under an __import__
# hook that records who imported what.
IMPORT_GRAPH = r"""
import builtins, importlib, importlib.util, json, sys
from pathlib import Path
sys.path.insert(0, "workflow")
edges, real = set(), builtins.__import__
def hook(name, globals=None, locals=None, fromlist=(), level=0):
    module = real(name, globals, locals, fromlist, level)
    importer = (globals or {}).get("__name__", "")
    package = (globals or {}).get("__package__") or ""
    target = importlib.util.resolve_name("." * level + name, package) if level else name
    names = [target] + [f"{target}.{f}" for f in fromlist or () if f"{target}.{f}" in sys.modules]
    edges.update((importer, n) for n in names if n.startswith("lethe"))
    return module
builtins.__import__ = hook
roots = {}
for path in sorted(Path("workflow/lethe/stages").glob("*.py")):
    if path.stem != "__init__":
        roots[path.stem] = [f"lethe.stages.{path.stem}"]
        importlib.import_module(roots[path.stem][0])
for path in sorted(Path("workflow/lethe/methods").glob("*.py")):
    importlib.import_module(f"lethe.methods.{path.stem}")
files = {n: m.__file__ for n, m in sys.modules.items() if n.startswith("lethe") and getattr(m, "__file__", None)}
print(json.dumps({"edges": sorted(edges), "roots": roots, "files": files}))
"""


def observed_imports(workdir: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """({stage: package files its module loads}, {method: files its module loads}), relative to workdir."""
    proc = subprocess.run([sys.executable, "-c", IMPORT_GRAPH], cwd=workdir, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    graph = json.loads(proc.stdout)
    edges: dict[str, set[str]] = {}
    for importer, imported in graph["edges"]:
        edges.setdefault(importer, set()).add(imported)
    files = {n: Path(f).resolve().relative_to(workdir.resolve()).as_posix() for n, f in graph["files"].items()}

    def loaded(names: list[str]) -> set[str]:
        seen, todo = set(), list(names)
        while todo:
            name = todo.pop()
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # a module runs its packages' __init__ first
                parent = ".".join(parts[:i])
                if parent in files and parent not in seen:
                    seen.add(parent)
                    todo.extend(edges.get(parent, ()))
        return {files[n] for n in seen}

    methods = {p.stem: loaded([f"lethe.methods.{p.stem}"]) for p in (workdir / "workflow/lethe/methods").glob("*.py")}
    return {stage: loaded(names) for stage, names in graph["roots"].items()}, methods


def rule_stages() -> dict[str, str]:
    """{rule: stage name} from the rule files."""
    stages, derived = {}, {}
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n|\n)*)", smk.read_text(), flags=re.M):
            match = re.search(r'job_params\(\s*"(\w+)"', body)
            if match:
                stages[rule] = match.group(1)
        # `use rule X as Y with:` runs X's stage.
        derived.update(dict(re.findall(r"^use rule (\w+) as (\w+) with:", smk.read_text(), flags=re.M)))
    stages.update({child: stages[parent] for parent, child in derived.items()})
    # The figure rules are made in a loop from the registry (figures.smk): its entries name their stages.
    stages.update({rule_name(f.name): f.stage for f in FIGURE_REGISTRY.values()})
    return stages


def test_code_inputs_cover_everything_a_job_imports(tiny_run: Path, forced_jobs: dict[str, dict]):
    """Each job's code stamp lists its stage and every package module that stage (and,
    for unlearn, its method) loads when it runs, as relative paths, among them the batch
    order (tensors.py) and the checkpoint format (checkpoint.py). The stamp is the job's
    only code input."""
    stages, methods = observed_imports(tiny_run)
    rules = rule_stages()
    checked = set()
    for job in forced_jobs.values():
        if job["rule"] == "all":
            continue
        assert len(job["stamps"]) == 1 and not any(p.startswith("workflow/lethe/") for p in job["inputs"]), job
        code = job["code"]
        assert f"workflow/lethe/stages/{rules[job['rule']]}.py" in code, job["key"]
        expected = stages[rules[job["rule"]]]
        if job["rule"] in METHOD_RULES:
            method = job["key"].rsplit("/", 1)[1].split(".")[0]
            expected = expected | methods[method]
        assert expected <= code, (job["key"], sorted(expected - code))
        assert all((tiny_run / p).is_file() and not Path(p).is_absolute() for p in code), job["key"]
        checked.add(job["rule"])
    assert {"train_original", "unlearn", "evaluate", "compile_paper", "figure_gradcam"} <= checked
    assert "workflow/lethe/data/tensors.py" in stages["train_original"]
    assert "workflow/lethe/models/checkpoint.py" in stages["unlearn"]


def downstream(jobs: dict[str, dict], keys: set[str]) -> set[str]:
    """``keys`` and every job that consumes, directly or not, an output of one of them."""
    made = {output: key for key, job in jobs.items() for output in job["outputs"]}
    consumers: dict[str, set[str]] = {}
    for key, job in jobs.items():
        for path in job["inputs"]:
            if path in made:
                consumers.setdefault(made[path], set()).add(key)
    seen, todo = set(), list(keys)
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            todo.extend(consumers.get(key, ()))
    return seen


@pytest.mark.parametrize("module", module_representatives())
def test_module_edit_reruns_exactly_its_importers(tiny_run: Path, forced_jobs: dict[str, dict], module: str):
    """Editing one package module reruns the jobs whose code stamp lists it and what depends
    on their outputs, nothing else (a module that no job imports: nothing). Snakemake names
    the rewritten stamp as the reason of the first such jobs; the rest rerun for their
    updated inputs."""
    path = tiny_run / module
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        jobs = {job["key"]: job for job in dry_run_jobs(tiny_run)}
    finally:
        path.write_text(original)
    importers = {key for key, job in forced_jobs.items() if module in job["code"]}
    stamps = {stamp for key in importers for stamp in forced_jobs[key]["stamps"]}
    assert set(jobs) == downstream(forced_jobs, importers)
    first = {key for key in importers if not downstream(forced_jobs, importers - {key}) >= {key}}
    for key, job in jobs.items():
        direct = job["reason"].startswith("Updated input files") and any(stamp in job["reason"] for stamp in stamps)
        assert direct or (key not in first and job["reason"].startswith("Input files updated by another job")), job
        assert key in importers or not direct, job


def test_moved_checkout_is_up_to_date(tiny_run: Path, tmp_path: Path):
    """A finished checkout copied elsewhere, results and .snakemake included, reruns nothing."""
    moved = tmp_path / "elsewhere" / "lethe"
    shutil.copytree(tiny_run, moved, symlinks=True)
    proc = snakemake(moved, "--configfile", str(TINY))
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def test_killed_run_resumes_and_a_concurrent_run_is_refused(tmp_path_factory, tmp_path: Path):
    """kill -9 of Snakemake mid-training (with its jobs: a crash) leaves its locks behind; the
    README's command then resumes without --unlock and trains the same model as a run that was
    never interrupted. While a run is alive, a second one in the same directory is refused."""
    workdir = copy_repository(tmp_path_factory.mktemp("repo"))
    config = write_config(tmp_path / "long.yaml", lambda c: c["train"].update(epochs=200))
    target = "results/models/digits/mlp/seed0/original.safetensors"
    command = [*SNAKEMAKE, target, "--workflow-profile", "workflow/profiles/default", "--configfile", str(config)]
    subprocess.run(command, cwd=workdir, capture_output=True, check=True)
    uninterrupted = {p: (workdir / p).read_bytes() for p in (target, target.replace(".safetensors", ".json"))}
    shutil.rmtree(workdir / "results")
    shutil.rmtree(workdir / ".snakemake")

    log = workdir / "results/logs/train_original/digits/mlp/seed0.log"
    run = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (log.is_file() and "epoch 1/200" in log.read_text()):
            assert run.poll() is None and time.monotonic() < deadline, "training did not start"
            time.sleep(0.05)
        second = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
        assert run.poll() is None, "the first run ended before the second was tried: train longer"
        assert second.returncode != 0 and "LockException" in second.stdout + second.stderr
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert not (workdir / target).exists() and any((workdir / ".snakemake/locks").iterdir())

    resumed = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "removed stale Snakemake locks" in resumed.stderr
    assert (workdir / target).read_bytes() == uninterrupted[target]
    meta, again = (
        json.loads(b)
        for b in (
            uninterrupted[target.replace(".safetensors", ".json")],
            (workdir / target.replace(".safetensors", ".json")).read_bytes(),
        )
    )
    assert without_times(again) == without_times(meta)


def without_times(record):
    """A record without its wall-time fields (``*seconds``), which differ between two runs."""
    if isinstance(record, dict):
        return {k: without_times(v) for k, v in record.items() if not k.endswith("seconds")}
    if isinstance(record, list):
        return [without_times(v) for v in record]
    return record
