"""What the workflow does while Snakemake parses it (lethe.engine.workflow), without Snakemake.

The workflow tests run these calls through Snakemake; here each is called with a stand-in for
Snakemake's ``workflow`` object, so a broken call fails in the fast tier."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from lethe.engine import workflow as lethe_workflow
from lethe.engine.job import WORKER_ENV

REPO = Path(__file__).resolve().parents[2]


def fake_workflow(main: bool = True, local: bool = True, deployment: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        is_main_process=main,
        local_exec=local,
        deployment_settings=SimpleNamespace(deployment_method=deployment),
        scheduler=SimpleNamespace(job_rate_limiter=object()),
    )


class Named(list):
    """Snakemake's named lists: items by position, and by name through ``items()``."""

    def __init__(self, names: dict):
        super().__init__(names.values())
        self.names = names

    def items(self):
        return self.names.items()

    def __getitem__(self, key):
        return self.names[key] if isinstance(key, str) else super().__getitem__(key)


def test_runtime_params_carry_amp_only_where_asked():
    config = {"device": "cpu", "amp": "bfloat16", "memory_format": "auto"}
    assert lethe_workflow.runtime_params(config) == config
    assert lethe_workflow.runtime_params(config, amp=False) == {"device": "cpu", "memory_format": "auto"}


def test_job_params_resolve_each_callable_with_the_arguments_it_names():
    params = lethe_workflow.job_params(
        "unlearn", hyper=lambda wildcards: {"lr": float(wildcards["seed"])}, fixed=3, first=lambda input: input[0]
    )
    assert params["fixed"] == 3 and callable(params["job"])
    spec = json.loads(params["job"](Named({"seed": "2"}), Named({"npz": "a.npz"}), Named({"model": "m"})))
    assert spec["stage"] == "unlearn"
    assert spec["params"] == {"hyper": {"lr": 2.0}, "fixed": 3, "first": "a.npz"}
    assert spec["input"] == {"npz": "a.npz"} and spec["output"] == {"items": ["m"], "names": {"model": "m"}}


def test_read_plan_replaces_the_config_with_its_checked_form_and_names_a_bad_key(capsys):
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    plan = lethe_workflow.read_plan(fake_workflow(), config)
    assert config == plan.config and config["evaluation"]["reference_models"] == 8
    assert "method_params" in config and "data" in config  # the schema's defaults filled in
    with pytest.raises(lethe_workflow.ConfigProblem, match=r"^invalid config: .*seeds"):
        lethe_workflow.read_plan(fake_workflow(), {**config, "seeds": "zero"})
    capsys.readouterr()
    lethe_workflow.read_plan(fake_workflow(), {**config, "method_params": {"ssd": {"alpha": 5.0}}})
    assert "lethe: warning: method_params.ssd is set but ssd is not run" in capsys.readouterr().err
    lethe_workflow.read_plan(fake_workflow(main=False), {**config, "method_params": {"ssd": {"alpha": 5.0}}})
    assert capsys.readouterr().err == ""  # a cluster job's own Snakemake process says nothing


def test_the_job_command_runs_the_entry_with_the_jobs_description(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    command = lethe_workflow.job_command(fake_workflow(), REPO)
    assert command.endswith(" {params.job:q} --log {log:q} --threads {threads}")
    assert "workflow/job.py" in command and not command.split()[1].startswith("/")  # relative: a copy still runs
    assert lethe_workflow.job_command(fake_workflow(deployment="conda"), REPO).startswith("python ")


def test_a_local_run_drops_the_rate_limiter_and_a_cluster_run_keeps_it(monkeypatch):
    monkeypatch.setenv(WORKER_ENV, "off")  # no worker process in this test
    local = fake_workflow()
    run = lethe_workflow.LocalRun(local, REPO)
    run.start()
    assert local.scheduler.job_rate_limiter is None and run.worker is None
    cluster = fake_workflow(local=False)
    limiter = cluster.scheduler.job_rate_limiter
    lethe_workflow.LocalRun(cluster, REPO).start()
    assert cluster.scheduler.job_rate_limiter is limiter
    run.stop()
