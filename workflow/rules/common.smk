# Shared helpers: config validation, the experiment plan, wildcard constraints,
# input functions. Parse-time code stays torch-free so that `snakemake -n` is quick.
import os
import sys
from pathlib import Path

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO / "workflow"))

from lethe.code_deps import code_inputs  # noqa: E402
from lethe.config import ConfigError, load_plan, load_yaml  # noqa: E402
from lethe.methods.catalog import METHODS  # noqa: E402
from lethe.plan import REFERENCE  # noqa: E402
from lethe.run_lock import claim  # noqa: E402

# A run killed with SIGKILL leaves Snakemake's locks behind: remove them when no other
# live run of this workflow holds the directory (lethe.run_lock), so a rerun resumes.
if workflow.is_main_process:
    _note = claim(".snakemake")
    if _note:
        print(f"lethe: {_note}", file=sys.stderr)

# The default config, unless --configfile names others: those then stand alone (with the
# schema's defaults) instead of being merged key by key into this one. Read by lethe.config
# first, so that a YAML error names its file and line (Snakemake's loader names neither).
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
if not workflow.overwrite_configfiles:
    try:
        load_yaml(DEFAULT_CONFIG)
    except ConfigError as error:
        raise WorkflowError(f"invalid config: {error}") from None

    configfile: str(DEFAULT_CONFIG)


# The config as written is checked against config/schema.yaml (one line naming the key,
# the value and what is allowed), then the plan's checks; defaults are filled in between.
try:
    PLAN = load_plan(config)
except (KeyError, ValueError) as error:
    raise WorkflowError(f"invalid config: {error.args[0]}") from None
config.clear()
config.update(PLAN.config)
if workflow.is_main_process:
    for _warning in PLAN.warnings:
        print(f"lethe: warning: {_warning}", file=sys.stderr)

RUNS = PLAN.runs()
DEVICE = config["device"]
# Mixed precision and memory format: params of every rule that trains or evaluates.
AMP = config["amp"]
MEMORY_FORMAT = config["memory_format"]
GPU = 0 if DEVICE == "cpu" else 1  # requested only where a rule can use it

MODELS = "results/models/{dataset}/{arch}/seed{seed}"
# Tables and paper are per config (its `name`); data, models and metrics are shared.
TABLES = f"results/tables/{config['name']}"
PAPER = f"results/paper/{config['name']}"
METRICS = "results/metrics/{dataset}/{arch}/seed{seed}/{forget_set}/{evaluated}.json"


wildcard_constraints:
    **PLAN.wildcard_constraints(),


def code(script, *modules):
    """A rule's code inputs: the `lethe` modules that its script (workflow/scripts/<script>.py)
    and `modules` import, transitively, as relative paths (the code trigger sees only the
    script itself). Derived from the source by lethe.code_deps, without importing it."""
    return code_inputs(
        REPO / "workflow", REPO / "workflow" / "scripts" / f"{script}.py", modules
    )


def method_code(wildcards):
    """The unlearn rule's code inputs of one method: its module and what that imports."""
    return code("unlearn", f"lethe.methods.{wildcards.method}")


def method_params(wildcards):
    return PLAN.params[wildcards.method]


def original_inputs(wildcards):
    """The model a method starts from (its catalogue's `original`): the pipeline's original,
    or SISA's sharded ensemble with its stage checkpoints (rule train_sisa)."""
    stem = METHODS[wildcards.method].original
    base = f"{MODELS}/{stem}".format(**wildcards)
    inputs = {"original": f"{base}.safetensors"}
    if stem == "sisa_original":
        inputs["original_stages"] = f"{base}.stages.safetensors"
    return inputs


def forget_spec(wildcards):
    return PLAN.forget_spec(wildcards.forget_set)


def metrics_files():
    return [METRICS.format(**run.wildcards, evaluated=run.method) for run in RUNS]


def evaluated_inputs(wildcards):
    """The model to evaluate, the original (relearn target) and retrain (distance
    reference) of its forget set, and for unlearned models their run record and retrain's.
    """
    original = f"{MODELS}/original.safetensors".format(**wildcards)
    base = f"{MODELS}/{{forget_set}}".format(**wildcards)
    inputs = {"original": original, "retrain": f"{base}/retrain.safetensors"}
    if wildcards.evaluated == REFERENCE:
        return {**inputs, "model": original}
    return {
        **inputs,
        "model": f"{base}/{wildcards.evaluated}.safetensors",
        "run": f"{base}/{wildcards.evaluated}.run.json",
        "retrain_run": f"{base}/retrain.run.json",
    }


# Figures (figures.smk): the GradCAM panels and confusion matrices show one forget set,
# the original, the methods of `figures.methods` and retrain; GradCAM the first seed only.
def figure_forget_set():
    """The forget set of the GradCAM and confusion figures: the first class-forgetting one, else the first."""
    ids = list(PLAN.forget_sets)
    classes = [fs for fs in ids if PLAN.forget_spec(fs)["kind"] != "random_samples"]
    return (classes or ids)[0]


FIGURE_FORGET_SET = figure_forget_set()


def figure_methods():
    """Columns of the GradCAM and confusion figures: original, the chosen methods, retrain.

    Chosen methods that do not apply to the figures' forget set (class-only methods on
    random samples) are left out.
    """
    chosen = config["figures"]["methods"]
    unknown = [m for m in chosen if m not in PLAN.methods]
    if unknown:
        raise WorkflowError(
            f"config key figures.methods: {unknown} not in methods {PLAN.methods}"
        )
    shown = [
        m
        for m in chosen or PLAN.methods
        if m != "retrain" and PLAN.applies(m, FIGURE_FORGET_SET)
    ]
    return [REFERENCE, *(shown if chosen else shown[:2]), "retrain"]


FIGURE_METHODS = figure_methods()
# The GradCAM panels' seed: the first seed that runs the figures' forget set.
FIGURE_SEED = next(r.seed for r in RUNS if r.forget_set == FIGURE_FORGET_SET)


def fnn_run_records():
    return [
        f"{MODELS}/{{forget_set}}/fnn.run.json".format(**run.wildcards)
        for run in RUNS
        if run.method == "fnn"
    ]


def figure_metrics():
    """Metrics JSONs of the confusion figure: every seed, the figure's forget set and methods."""
    return [
        METRICS.format(**run.wildcards, evaluated=run.method)
        for run in RUNS
        if run.forget_set == FIGURE_FORGET_SET and run.method in FIGURE_METHODS
    ]


def figure_runs():
    """Runs on the figures' seed and forget set: {(dataset, arch): methods run}."""
    shown = {}
    for run in RUNS:
        if run.seed == FIGURE_SEED and run.forget_set == FIGURE_FORGET_SET:
            shown.setdefault((run.dataset, run.arch), set()).add(run.method)
    return shown


FIGURE_RUNS = figure_runs()
# Datasets in the GradCAM panels: those that run the figures' forget set on its seed.
FIGURE_DATASETS = [d for d in PLAN.datasets if any(d == k[0] for k in FIGURE_RUNS)]


def figure_checkpoints():
    """Checkpoints of the GradCAM panels: first seed, the figure's forget set and methods
    (of each dataset and architecture, the methods its study runs; retrain always)."""
    paths = []
    for dataset in FIGURE_DATASETS:
        for arch in PLAN.archs:
            if (dataset, arch) not in FIGURE_RUNS:
                continue
            base = MODELS.format(dataset=dataset, arch=arch, seed=FIGURE_SEED)
            for method in FIGURE_METHODS:
                if method != "retrain" and method not in FIGURE_RUNS[dataset, arch]:
                    continue
                name = (
                    "original"
                    if method == REFERENCE
                    else f"{FIGURE_FORGET_SET}/{method}"
                )
                paths.append(f"{base}/{name}.safetensors")
    return paths
