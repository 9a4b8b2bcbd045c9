# Shared helpers: config validation, the experiment plan, wildcard constraints,
# input functions. Parse-time code stays torch-free so that `snakemake -n` is quick.
import sys
from pathlib import Path

from snakemake.utils import validate

REPO = Path(workflow.basedir)
PACKAGE = REPO / "workflow" / "lethe"
sys.path.insert(0, str(REPO / "workflow"))

from lethe.methods.catalog import METHODS  # noqa: E402
from lethe.plan import REFERENCE, Plan, canonical  # noqa: E402

validate(config, str(REPO / "config" / "schema.yaml"))
_canonical = canonical(config)  # key order in a config file must not rerun jobs
config.clear()
config.update(_canonical)
try:
    PLAN = Plan(config)
except (KeyError, ValueError) as error:
    raise WorkflowError(f"invalid config: {error.args[0]}") from None

RUNS = PLAN.runs()
DEVICE = config["device"]
GPU = 0 if DEVICE == "cpu" else 1  # requested only where a rule can use it

MODELS = "results/models/{dataset}/{arch}/seed{seed}"
# Tables and paper are per config (its `name`); data, models and metrics are shared.
TABLES = f"results/tables/{config['name']}"
PAPER = f"results/paper/{config['name']}"
METRICS = "results/metrics/{dataset}/{arch}/seed{seed}/{forget_set}/{evaluated}.json"


wildcard_constraints:
    **PLAN.wildcard_constraints(),


def code(*modules):
    """Package modules a rule's result depends on, as inputs (the code trigger sees only scripts)."""
    return [str(PACKAGE / module) for module in modules]


def method_code(wildcards):
    info = METHODS[wildcards.method]
    return code(f"methods/{wildcards.method}.py", *info.modules)


def method_params(wildcards):
    return PLAN.params[wildcards.method]


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
