"""One job of the workflow, as a plain description, and how it runs.

Every rule that runs Python has the same body, ``shell: JOB`` (workflow/rules/common.smk),
which starts ``python workflow/job.py SPEC --log LOG --threads N`` (that file calls
:func:`main`; started by its path, it imports the checkout's package): SPEC is the JSON that
:func:`spec` made from the job's stage, wildcards, named inputs, outputs and params (the
rule's params entry ``job``). This module then calls the stage's ``main(job)``
(``lethe.stages.NAME``, which maps the job's files and params onto the stage's function),
with the job's log (:func:`lethe.engine.log.logged`):

* in the warm worker of a local run (:mod:`lethe.engine.worker`) when one is running, named by
  the environment variable ``LETHE_WORKER`` that the workflow sets when it starts it: the
  worker, which has imported torch and the package once, forks one child per job, so the
  job runs in its own process, with the job's stdout and stderr, without paying for
  Python's start and the imports again;
* otherwise in this process: on SLURM (each cluster job is one process), under
  ``--sdm conda``, with ``LETHE_WORKER=off``, or when the worker cannot be reached.

Both paths run the same function on the same description, so their outputs are
identical (``tests/workflow/test_worker.py`` checks it bit for bit). Only the standard library is
imported here: the client side costs milliseconds.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Iterable

STAGES = "lethe.stages"  # the package of the stage modules, one per rule
WORKER_ENV = "LETHE_WORKER"


class Files(list):
    """A job's files or values: a list with named entries as attributes (like Snakemake's)."""

    def __init__(self, items: Iterable = (), names: dict | None = None):
        super().__init__(items)
        self._names = dict(names or {})

    def __getattr__(self, name: str):
        try:
            return self.__dict__["_names"][name]
        except KeyError:
            raise AttributeError(f"the job has no entry named {name!r}") from None

    def get(self, name: str, default=None):
        return self._names.get(name, default)

    def items(self):
        return self._names.items()


class Job:
    """What a rule's script sees: ``input``, ``output``, ``params``, ``wildcards``, ``log``, ``threads``."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.stage = spec["stage"]
        self.input = Files(names=spec["input"])
        self.output = Files(spec["output"]["items"], spec["output"]["names"])
        self.params = Files(names=spec["params"])
        self.wildcards = Files(names=spec["wildcards"])
        self.log = Files(spec["log"])
        self.threads = int(spec["threads"])

    @property
    def dataset(self) -> tuple[str, str]:
        """The dataset's files, ``(npz, manifest)``: the first arguments of every stage that loads it."""
        return self.input.npz, self.input.manifest

    @property
    def seed(self) -> int:
        """The run's seed (its wildcard)."""
        return int(self.wildcards.seed)


def _plain(value):
    """Snakemake's values as JSON: its file lists become lists, paths strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def spec(stage: str, wildcards, input, output, params: dict) -> str:
    """The job's description as JSON: its stage's name (``lethe.stages.STAGE``), Snakemake's
    wildcards, input and output of the job, and ``params`` already resolved for it."""
    return json.dumps(
        {
            "stage": stage,
            "wildcards": _plain(dict(wildcards.items())),
            "input": _plain(dict(input.items())),
            "output": {"items": _plain(list(output)), "names": _plain(dict(output.items()))},
            "params": _plain(params),
        },
        sort_keys=True,
    )


def load_stage(name: str):
    """The stage module ``lethe.stages.NAME``, whose ``main(job)`` runs the job."""
    try:
        return importlib.import_module(f"{STAGES}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{STAGES}.{name}":
            raise
        raise ModuleNotFoundError(f"no stage module {STAGES}.{name} for this job", name=error.name) from None


def run(spec: dict) -> None:
    """Run the job in this process: its stage's ``main(job)``, logged to the job's log."""
    from lethe.engine.log import logged

    job = Job(spec)
    log = job.log[0] if job.log else None
    if log is None:
        load_stage(job.stage).main(job)
        return
    with logged(log):
        load_stage(job.stage).main(job)


def parse_args(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python workflow/job.py", description="Run one job of the workflow.")
    parser.add_argument("spec", help="the job's JSON description (lethe.engine.job.spec)")
    parser.add_argument("--log", action="append", default=[], help="the job's log file")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    description = json.loads(args.spec)
    description["log"] = args.log
    description["threads"] = args.threads
    return description


def main(argv: list[str] | None = None) -> int:
    description = parse_args(sys.argv[1:] if argv is None else argv)
    address = os.environ.get(WORKER_ENV, "")
    if address and address != "off":
        from lethe.engine.client import submit

        returncode = submit(address, description)
        if returncode is not None:
            return returncode
    run(description)
    return 0


if __name__ == "__main__":
    sys.exit(main())
