# Shared helpers: config validation, the experiment plan, wildcard constraints,
# input functions. Parse-time code stays torch-free so that `snakemake -n` is quick.
import inspect
import os
import shlex
import sys
from pathlib import Path

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO / "workflow"))

from lethe import job as lethe_job  # noqa: E402
from lethe.code_deps import code_stamp  # noqa: E402
from lethe.config import ConfigError, load_plan, load_yaml  # noqa: E402
from lethe.data.imagefolder import source_stamp_path, write_source_stamp  # noqa: E402
from lethe.methods.catalog import METHODS, original_params  # noqa: E402
from lethe.models.catalog import needs_timm  # noqa: E402
from lethe.plan import (  # noqa: E402
    METRICS,
    MODELS,
    POPULATIONS,
    REFERENCE,
    REFERENCES,
    SHADOWS,
)
from lethe.tuned import RESULT as TUNED, STUDIES  # noqa: E402
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
    """A rule's code input: the stamp (results/code/) that lists its entry script
    (workflow/scripts/<script>.py) and the `lethe` modules that it and `modules` import,
    transitively, each with its sha256 (lethe.code_deps, from the source, without
    importing it). Rewritten when one of them changed: the rule's jobs rerun."""
    key = (script, *modules)
    if key not in _STAMPS:
        path, changed = code_stamp(
            REPO / "workflow", REPO / "workflow" / "scripts" / f"{script}.py", modules
        )
        if changed and workflow.is_main_process:
            print(
                f"lethe: code changed ({', '.join(changed)}): {path}", file=sys.stderr
            )
        _STAMPS[key] = path
    return _STAMPS[key]


_STAMPS = {}


# Image folders (config key imagefolders; lethe.data.imagefolder): each one's source stamp,
# results/sources/NAME.json, holds its spec and the sha256 of its images, and is rule
# prepare_dataset's input (its job reads the spec there). Written now, like the code stamps,
# and rewritten only when the spec or the images changed (added, removed, renamed, edited), so
# that exactly then the dataset is prepared again. While the images' paths, sizes and
# modification times are unchanged no image is read; after a change their bytes are hashed.
# Only the main process writes them (a cluster job's own Snakemake process finds them there;
# listing a big folder once per job would cost).
SOURCES = {}
for _dataset in PLAN.datasets:
    _folder = PLAN.imagefolder(_dataset)
    if _folder is None:
        continue
    if not workflow.is_main_process:
        SOURCES[_dataset] = os.path.relpath(source_stamp_path(_dataset))
        continue
    try:
        SOURCES[_dataset], _changed = write_source_stamp(_dataset, _folder)
    except ValueError as error:
        raise WorkflowError(f"invalid config: {error.args[0]}") from None
    if _changed:
        print(
            f"lethe: image folder {_folder['root']} changed: {SOURCES[_dataset]}",
            file=sys.stderr,
        )


def dataset_source(wildcards):
    """Rule prepare_dataset's source input: an image folder's source stamp; none for a built-in dataset."""
    source = SOURCES.get(wildcards.dataset)
    return {} if source is None else {"source": source}


# Each Python-running rule's body is `shell: JOB`: workflow/job.py starts the entry
# script (lethe.job) with the job's description, the params entry `job` that job_params
# adds. Locally it hands the job to the warm worker (lethe.worker, started by onstart), which
# forks a process for it; on SLURM, under --sdm conda or with LETHE_WORKER=off the job
# runs in that process itself. The job's threads and log are arguments (not in `job`,
# so that another --cores does not count as a params change).
PYTHON = "python" if workflow.deployment_settings.deployment_method else sys.executable
JOB = (
    f"{shlex.quote(PYTHON)} {shlex.quote(os.path.relpath(REPO / 'workflow' / 'job.py'))}"
    " {params.job:q} --log {log:q} --threads {threads}"
)


def _resolve(value, **available):
    """A param's value for one job: a function is called with the arguments it names."""
    if not callable(value):
        return value
    names = inspect.signature(value).parameters
    return value(**{name: available[name] for name in names})


def job_params(script, **params):
    """A rule's params: `params` and `job`, the job's description for its entry script."""

    def describe(wildcards, input, output):
        resolved = {
            name: _resolve(value, wildcards=wildcards, input=input, output=output)
            for name, value in params.items()
        }
        return lethe_job.spec(script, wildcards, input, output, resolved)

    return {**params, "job": describe}


# Snakemake's job rate limiter (--max-jobs-per-timespan, 100/1s unless set) re-arms a
# 1-second timer after every scheduling round, and each timer starts another round, so on a
# local run with jobs waiting for cores the rounds pile up (snakemake/snakemake#3744); in the
# default run Snakemake's own process took about a quarter of the machine's CPU, mostly in
# rounds that found no free core. A local run submits nothing to a cluster: it runs without
# the limiter (removed from the scheduler, which exists by `onstart`). Cluster runs keep it.
def unlimit_local_scheduler():
    if workflow.is_main_process and workflow.local_exec:
        scheduler = getattr(workflow, "scheduler", None)
        if scheduler is not None and hasattr(scheduler, "job_rate_limiter"):
            scheduler.job_rate_limiter = None


# The warm worker of a local run (lethe.worker): started before the first job, stopped
# after the last; jobs find it through LETHE_WORKER. Not on a cluster (each SLURM job
# is its own process), not under --sdm conda/apptainer (jobs run in their environment),
# not with LETHE_WORKER=off in the environment.
WORKER = []


def start_worker():
    if (
        not (workflow.is_main_process and workflow.local_exec)
        or workflow.deployment_settings.deployment_method
        or os.environ.get(lethe_job.WORKER_ENV) == "off"
    ):
        return
    from lethe import worker

    # timm (4 s to import) only where an architecture of the plan is timm's.
    extra = ("timm",) if any(needs_timm(arch) for _, arch, _ in PLAN.models()) else ()
    log = Path(".snakemake/lethe/worker.log")
    started = worker.start(REPO / "workflow", log, extra)
    if started is None:
        print(
            f"lethe: the warm worker did not start (see {log}); each job starts its own Python",
            file=sys.stderr,
        )
        return
    os.environ[lethe_job.WORKER_ENV] = started.address
    WORKER.append(started)


def stop_worker():
    while WORKER:
        WORKER.pop().stop()
    os.environ.pop(lethe_job.WORKER_ENV, None)


def method_code(wildcards):
    """The unlearn rule's code input of one method: the stamp of its module and what that imports."""
    return code("unlearn", f"lethe.methods.{wildcards.method}")


# Every method's stamp is written now, while the workflow is parsed: Snakemake takes stock
# of which files exist before it calls input functions, so a stamp first written from
# method_code would count as missing.
for _method in PLAN.methods:
    code("unlearn", f"lethe.methods.{_method}")


def population_code(wildcards):
    """The population rule's code input of one method (lethe.population runs the method's module)."""
    return code("population", f"lethe.methods.{wildcards.method}")


for _method in dict.fromkeys(run.method for run in PLAN.population_runs()):
    code("population", f"lethe.methods.{_method}")


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
    if PLAN.source(wildcards.method, kind) != "search":
        return {}
    return {
        "tuned": PLAN.tuned_file(
            wildcards.dataset, wildcards.arch, wildcards.method, wildcards.forget_set
        )
    }


def tune_inputs(wildcards):
    """Rule tune's inputs: its code, the data, and the tuning seed's original (the method's own where it
    has one), forget set and retrain."""
    seed = PLAN.tuning["seed"]
    fs = PLAN.tuning_forget_set(wildcards.kind)
    models = MODELS.format(dataset=wildcards.dataset, arch=wildcards.arch, seed=seed)
    return {
        "code": code("tune", f"lethe.methods.{wildcards.method}"),
        "npz": f"results/data/{wildcards.dataset}.npz",
        "manifest": f"results/data/{wildcards.dataset}.json",
        "forget_set": f"results/forget_sets/{wildcards.dataset}/{fs}.json",
        **own_original(models, wildcards.method),
        "retrain": f"{models}/{fs}/retrain.safetensors",
        "retrain_run": f"{models}/{fs}/retrain.run.json",
    }


for _dataset, _arch, _method, _kind in PLAN.tune_jobs():
    code("tune", f"lethe.methods.{_method}")  # written at parse time (see method_code)


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
