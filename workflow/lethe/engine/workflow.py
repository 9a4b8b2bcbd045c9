"""What the workflow does while Snakemake parses it, behind a few named calls.

``workflow/rules/common.smk`` keeps the input functions of the rules; everything else that
happens at parse time lives here, each step a function that takes Snakemake's ``workflow``
object (and the config) and that a test can call:

* :func:`claim_run_lock`: clear the locks a killed run left behind (:mod:`.run_lock`);
* :func:`read_plan`: the config checked against the schema and the plan's checks
  (:mod:`lethe.plan.config`), its warnings printed once;
* :class:`CodeStamps`: each rule's code input (:mod:`.stamps`), written before Snakemake
  takes stock of which files exist;
* :func:`write_source_stamps`: each image folder's source stamp
  (:mod:`lethe.data.imagefolder`);
* :func:`job_command` and :func:`job_params`: every Python rule's shell command and its
  ``job`` description (:mod:`.job`);
* :class:`LocalRun`: the warm worker's life cycle (:mod:`.worker`) and the local scheduler
  without its rate limiter.

Torch-free, and never imported by a job (the warm worker skips it): it is Snakemake's side.
"""

from __future__ import annotations

import inspect
import os
import shlex
import sys
from pathlib import Path

from lethe.engine import job as lethe_job
from lethe.engine.run_lock import claim
from lethe.engine.stamps import code_stamp

WORKER_LOG = Path(".snakemake/lethe/worker.log")


def note(message: str) -> None:
    """One line for the user on stderr, prefixed ``lethe:``."""
    print(f"lethe: {message}", file=sys.stderr)


class ConfigProblem(ValueError):
    """A bad config, or a bad input it names: common.smk raises it again as Snakemake's
    ``WorkflowError``, which prints its one line without a traceback into this module."""


def claim_run_lock(workflow) -> None:
    """A run killed with SIGKILL leaves Snakemake's locks behind: remove them when no other live run
    of this workflow holds the directory (:func:`lethe.engine.run_lock.claim`), so a rerun resumes."""
    if workflow.is_main_process:
        message = claim(".snakemake")
        if message:
            note(message)


def check_default_config(path: Path) -> None:
    """Read the default config with :mod:`lethe.plan.config` before Snakemake does, so that a YAML
    error names its file and line (Snakemake's loader names neither)."""
    from lethe.plan.config import ConfigError, load_yaml

    try:
        load_yaml(path)
    except ConfigError as error:
        raise ConfigProblem(f"invalid config: {error}") from None


def read_plan(workflow, config: dict):
    """The experiment plan of ``config`` (:func:`lethe.plan.config.load_plan`), whose checked
    config, defaults filled in, replaces ``config``'s content; one line naming the bad key when
    it is invalid. The plan's warnings are printed by the main process."""
    from lethe.plan.config import load_plan

    try:
        plan = load_plan(config)
    except (KeyError, ValueError) as error:
        raise ConfigProblem(f"invalid config: {error.args[0]}") from None
    config.clear()
    config.update(plan.config)
    if workflow.is_main_process:
        for warning in plan.warnings:
            note(f"warning: {warning}")
    return plan


def runtime_params(config: dict, amp: bool = True) -> dict:
    """The params every rule that trains or evaluates passes its stage's
    :class:`lethe.device.Runtime`: ``device``, ``amp`` (left out for the rules that train in
    float32 whatever the config says) and ``memory_format``."""
    params = {"device": config["device"]}
    if amp:
        params["amp"] = config["amp"]
    params["memory_format"] = config["memory_format"]
    return params


class CodeStamps:
    """The code inputs of the rules: one stamp per (stage, extra modules), written once per parse.

    A stamp must exist before Snakemake takes stock of which files exist, which happens before it
    calls input functions: so every stamp an input function can ask for is written while the
    workflow is parsed (:meth:`write_all`), and :meth:`__call__` then only looks it up.
    """

    def __init__(self, workflow, repo: Path):
        self.workflow = workflow
        self.root = Path(repo) / "workflow"
        self.paths: dict[tuple[str, ...], str] = {}

    def __call__(self, stage: str, *modules: str) -> str:
        """The stamp (results/code/) listing the modules that ``lethe.stages.STAGE`` and
        ``modules`` import, transitively, each with its sha256; rewritten when one changed."""
        key = (stage, *modules)
        if key not in self.paths:
            path, changed = code_stamp(self.root, stage, modules)
            if changed and self.workflow.is_main_process:
                note(f"code changed ({', '.join(changed)}): {path}")
            self.paths[key] = path
        return self.paths[key]

    def method(self, stage: str, method: str) -> str:
        """The stamp of a stage that runs one method: the stage's modules and the method's."""
        return self(stage, f"lethe.methods.{method}")

    def write_all(self, plan) -> None:
        """Every per-method stamp of the plan: unlearn's, population's and tune's."""
        for method in plan.methods:
            self.method("unlearn", method)
        for method in dict.fromkeys(run.method for run in plan.population_runs()):
            self.method("population", method)
        for _, _, method, _ in plan.tuning.tune_jobs():
            self.method("tune", method)


def write_source_stamps(workflow, plan) -> dict[str, str]:
    """{dataset: its source stamp} for the plan's image folders (results/sources/NAME.json: the
    folder's spec and its images' sha256, rule prepare_dataset's input), rewritten only when the
    spec or an image changed, so that exactly then the dataset is prepared again. Only the main
    process writes them: a cluster job's own Snakemake process finds them there."""
    from lethe.data.imagefolder import source_stamp_path, write_source_stamp

    sources = {}
    for dataset in plan.datasets:
        folder = plan.imagefolder(dataset)
        if folder is None:
            continue
        if not workflow.is_main_process:
            sources[dataset] = os.path.relpath(source_stamp_path(dataset))
            continue
        try:
            sources[dataset], changed = write_source_stamp(dataset, folder)
        except ValueError as error:
            raise ConfigProblem(f"invalid config: {error.args[0]}") from None
        if changed:
            note(f"image folder {folder['root']} changed: {sources[dataset]}")
    return sources


def job_command(workflow, repo: Path) -> str:
    """Every Python rule's shell command: ``workflow/job.py`` with the job's description (its
    params entry ``job``), log and threads (not in ``job``, so that another ``--cores`` is no params
    change). The Python of this Snakemake, or the environment's under ``--sdm conda``."""
    python = "python" if workflow.deployment_settings.deployment_method else sys.executable
    entry = os.path.relpath(Path(repo) / "workflow" / "job.py")
    return f"{shlex.quote(python)} {shlex.quote(entry)} {{params.job:q}} --log {{log:q}} --threads {{threads}}"


def _resolve(value, **available):
    """A param's value for one job: a function is called with the arguments it names."""
    if not callable(value):
        return value
    names = inspect.signature(value).parameters
    return value(**{name: available[name] for name in names})


def job_params(stage: str, **params) -> dict:
    """A rule's params: ``params`` and ``job``, the job's description for ``lethe.stages.STAGE``
    (:func:`lethe.engine.job.spec`), with every callable param resolved for the job."""

    def describe(wildcards, input, output):
        resolved = {
            name: _resolve(value, wildcards=wildcards, input=input, output=output) for name, value in params.items()
        }
        return lethe_job.spec(stage, wildcards, input, output, resolved)

    return {**params, "job": describe}


class LocalRun:
    """A local run's warm worker and scheduler (``onstart``, ``onsuccess``, ``onerror``).

    The worker (:mod:`.worker`) is started before the first job and stopped after the last; jobs
    find it through ``LETHE_WORKER``. Not on a cluster (each SLURM job is its own process), not
    under ``--sdm conda/apptainer`` (jobs run in their environment), not with ``LETHE_WORKER=off``.
    """

    def __init__(self, workflow, repo: Path, timm: bool = False):
        self.workflow = workflow
        self.repo = Path(repo)
        self.timm = timm  # timm (4 s to import) preloaded only where an architecture of the plan is timm's
        self.worker = None

    @property
    def local(self) -> bool:
        return self.workflow.is_main_process and self.workflow.local_exec

    def start(self) -> None:
        self.unlimit_scheduler()
        self.start_worker()

    def unlimit_scheduler(self) -> None:
        """Snakemake's job rate limiter (``--max-jobs-per-timespan``, 100/1s unless set) re-arms a
        1-second timer after every scheduling round, and each timer starts another round, so on a
        local run with jobs waiting for cores the rounds pile up (snakemake/snakemake#3744). A local
        run submits nothing to a cluster: it runs without the limiter. Cluster runs keep it."""
        if self.local:
            scheduler = getattr(self.workflow, "scheduler", None)
            if scheduler is not None and hasattr(scheduler, "job_rate_limiter"):
                scheduler.job_rate_limiter = None

    def start_worker(self) -> None:
        if (
            not self.local
            or self.workflow.deployment_settings.deployment_method
            or os.environ.get(lethe_job.WORKER_ENV) == "off"
        ):
            return
        from lethe.engine import worker

        started = worker.start(self.repo / "workflow", WORKER_LOG, ("timm",) if self.timm else ())
        if started is None:
            note(f"the warm worker did not start (see {WORKER_LOG}); each job starts its own Python")
            return
        os.environ[lethe_job.WORKER_ENV] = started.address
        self.worker = started

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        os.environ.pop(lethe_job.WORKER_ENV, None)
