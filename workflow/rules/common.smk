# The rules' input functions. What happens at parse time besides (the run lock, the config
# and plan, code and source stamps, the job command, the warm worker) is lethe.engine.workflow's;
# parse-time code stays torch-free so that `snakemake -n` is quick.
import sys
from pathlib import Path

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO / "workflow"))

from lethe.engine import workflow as lethe_workflow  # noqa: E402
from lethe.engine.workflow import job_params  # noqa: E402
from lethe.methods.catalog import METHODS, original_params  # noqa: E402
from lethe.models.catalog import needs_timm  # noqa: E402
from lethe.plan.paths import (  # noqa: E402
    METRICS,
    MODELS,
    ORIGINAL,
    POPULATIONS,
    REFERENCES,
    SHADOWS,
)
from lethe.report.selection import select  # noqa: E402
from lethe.tuning.values import RESULT as TUNED, STUDIES  # noqa: E402

lethe_workflow.claim_run_lock(workflow)

# The default config, unless --configfile names others: those then stand alone (with the
# schema's defaults) instead of being merged key by key into this one. A bad config (or a
# bad image folder it names) is one line: lethe_workflow.ConfigProblem's message.
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
if not workflow.overwrite_configfiles:
    try:
        lethe_workflow.check_default_config(DEFAULT_CONFIG)
    except lethe_workflow.ConfigProblem as problem:
        raise WorkflowError(problem.args[0]) from None

    configfile: str(DEFAULT_CONFIG)


# The config as written is checked against config/schema.yaml, then the plan's checks; the
# checked config with its defaults replaces `config`.
try:
    PLAN = lethe_workflow.read_plan(workflow, config)
except lethe_workflow.ConfigProblem as problem:
    raise WorkflowError(problem.args[0]) from None
RUNS = PLAN.runs()
# The params of every rule that trains or evaluates (its stage's lethe.device.Runtime); the
# batched reference and shadow trainers train in float32 whatever `amp` says.
RUNTIME = lethe_workflow.runtime_params(config)
FLOAT32_RUNTIME = lethe_workflow.runtime_params(config, amp=False)
GPU = 0 if config["device"] == "cpu" else 1  # requested only where a rule can use it

# Tables and paper are per config (its `name`); data, models and metrics are shared.
TABLES = f"results/tables/{config['name']}"
PAPER = f"results/paper/{config['name']}"


wildcard_constraints:
    **PLAN.wildcard_constraints(),


# Each rule's code input: `code(STAGE, *modules)` is the stamp (results/code/) of the `lethe`
# modules that lethe.stages.STAGE and `modules` import, transitively (lethe.engine.stamps).
code = lethe_workflow.CodeStamps(workflow, REPO)
code.write_all(PLAN)

# Image folders' source stamps (results/sources/NAME.json), rule prepare_dataset's input.
try:
    SOURCES = lethe_workflow.write_source_stamps(workflow, PLAN)
except lethe_workflow.ConfigProblem as problem:
    raise WorkflowError(problem.args[0]) from None

# Each Python-running rule's body: workflow/job.py runs lethe.stages.STAGE's main(job) with
# the job's description (the params entry `job` that job_params adds), in the warm worker of
# a local run or in its own process (lethe.engine.job).
JOB = lethe_workflow.job_command(workflow, REPO)
LOCAL_RUN = lethe_workflow.LocalRun(
    workflow, REPO, timm=any(needs_timm(arch) for _, arch, _ in PLAN.models())
)


def dataset_source(wildcards):
    """Rule prepare_dataset's source input: an image folder's source stamp; none for a built-in dataset."""
    source = SOURCES.get(wildcards.dataset)
    return {} if source is None else {"source": source}


def method_code(wildcards):
    """The unlearn rule's code input of one method: the stamp of its module and what that imports."""
    return code.method("unlearn", wildcards.method)


def population_code(wildcards):
    """The population rule's code input of one method (lethe.populations.runs runs the method's module)."""
    return code.method("population", wildcards.method)


def method_params(wildcards):
    """A run's hyperparameters as known at parse time (lethe.plan.Plan.method_params): with
    shipped tuned values; a searched method's runs add rule tune's (tuned_input) when they start.
    """
    return PLAN.method_params(
        wildcards.method, wildcards.dataset, wildcards.arch, wildcards.forget_set
    )


def tuned_input(wildcards):
    """Rule tune's output, an input of a searched method's runs (none for other sources)."""
    kind = PLAN.forget_spec(wildcards.forget_set)["kind"]
    if PLAN.tuning.source(wildcards.method, kind) != "search":
        return {}
    return {
        "tuned": PLAN.tuning.tuned_file(
            wildcards.dataset, wildcards.arch, wildcards.method, wildcards.forget_set
        )
    }


def tune_inputs(wildcards):
    """Rule tune's inputs: its code, the data, and the tuning seed's original (the method's own where it
    has one), forget set and retrain."""
    seed = PLAN.tuning.spec["seed"]
    fs = PLAN.tuning.tuning_forget_set(wildcards.kind)
    models = MODELS.format(dataset=wildcards.dataset, arch=wildcards.arch, seed=seed)
    return {
        "code": code.method("tune", wildcards.method),
        "npz": f"results/data/{wildcards.dataset}.npz",
        "manifest": f"results/data/{wildcards.dataset}.json",
        "forget_set": f"results/forget_sets/{wildcards.dataset}/{fs}.json",
        **own_original(models, wildcards.method),
        "retrain": f"{models}/{fs}/retrain.safetensors",
        "retrain_run": f"{models}/{fs}/retrain.run.json",
    }


def original_inputs(wildcards):
    """The model a method starts from (its catalogue's `original`): the pipeline's original,
    or the method's own with its stages file (SISA's sharded ensemble, rule train_sisa;
    ERM-KTP's masked original, rule train_erm)."""
    return own_original(MODELS.format(**wildcards), wildcards.method)


def own_original(models, method):
    """The checkpoint ``method`` starts from in the folder ``models``, and its stages file if it has one."""
    stem = METHODS[method].original
    inputs = {"original": f"{models}/{stem}.safetensors"}
    if (
        stem != "original"
    ):  # an own original (SISA's ensemble, ERM-KTP's masked model) has a stages file
        inputs["original_stages"] = f"{models}/{stem}.stages.safetensors"
    return inputs


def forget_spec(wildcards):
    return PLAN.forget_spec(wildcards.forget_set)


def metrics_files():
    return [METRICS.format(**run.wildcards, evaluated=run.method) for run in RUNS]


def quality_files():
    """Every population's metrics against retrain's (rule forgetting_quality); none without populations."""
    return [
        f"{POPULATIONS}/{{method}}.quality.json".format(**run.wildcards)
        for run in PLAN.quality_runs()
    ]


_SHADOW_RUNS = {
    (run.dataset, run.arch, run.seed, run.forget_set, run.method)
    for run in PLAN.shadow_runs()
}


def shadow_population(wildcards):
    """U-LiRA's population from the shadow originals, an input of forgetting_quality jobs: the method's
    population_shadow output; for a method that starts from no original (retrain_twin) its one
    population serves (the original does not enter it); none otherwise (SISA) or without
    population.shadow."""
    key = (
        wildcards.dataset,
        wildcards.arch,
        int(wildcards.seed),
        wildcards.forget_set,
        wildcards.method,
    )
    base = POPULATIONS.format(**wildcards)
    if key in _SHADOW_RUNS:
        return {
            "shadow_npz": f"{base}/shadow/{wildcards.method}.npz",
            "shadow_record": f"{base}/shadow/{wildcards.method}.json",
        }
    if config["population"]["shadow"] and not METHODS[wildcards.method].needs_original:
        return {
            "shadow_npz": f"{base}/{wildcards.method}.npz",
            "shadow_record": f"{base}/{wildcards.method}.json",
        }
    return {}


def evaluated_inputs(wildcards):
    """The model to evaluate, the original (relearn target) and retrain (distance
    reference) of its forget set, the reference models' scores (LiRA) when configured, and
    for unlearned models their run record and retrain's.
    """
    original = f"{MODELS}/original.safetensors".format(**wildcards)
    base = f"{MODELS}/{{forget_set}}".format(**wildcards)
    inputs = {"original": original, "retrain": f"{base}/retrain.safetensors"}
    if config["evaluation"]["reference_models"] > 0:
        references = REFERENCES.format(**wildcards)
        inputs["reference"] = f"{references}/scores.npz"
        inputs["reference_meta"] = f"{references}/reference.json"
    if wildcards.evaluated == ORIGINAL:
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
