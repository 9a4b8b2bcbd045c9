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
from lethe.plan import METRICS, MODELS, REFERENCE  # noqa: E402
from lethe.report.selection import select  # noqa: E402
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

# Tables and paper are per config (its `name`); data, models and metrics are shared.
TABLES = f"results/tables/{config['name']}"
PAPER = f"results/paper/{config['name']}"


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


# Figures (figures.smk): the forget set, methods, seed and datasets that the GradCAM
# panels and confusion matrices show (lethe.report.selection).
try:
    FIGURE_SELECTION = select(PLAN, config["figures"]["methods"])
except ValueError as error:
    raise WorkflowError(error.args[0]) from None
