"""A real SLURM run: Debian's slurm-wlm as a one-node cluster on this machine, and the
workflow submitted to it through workflow/profiles/slurm (Snakemake's SLURM executor plugin).

The `cluster` fixture installs slurmctld, slurmd, slurm-client and munge with apt when they
are missing (root only), fills in tests/slurm/slurm.conf.in beside tests/slurm/gres.conf in
a scratch folder, starts munged, slurmctld and slurmd by hand, and stops them by process id
afterwards, also when a test fails. The run is tests/slurm/cluster.yaml: a cut-down tiny
config with `device: auto`, so that the GPU rules ask SLURM for a GPU; the test cluster
has two placeholder GPUs for them (a cluster with none: see README, "Running on a cluster").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers.repository_copy import copy_repository

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "tests" / "slurm"
CONFIG = HERE / "cluster.yaml"
PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
COMMANDS = ["munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scancel", "sinfo"]
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
GPU_RULES = {
    "train_original",
    "train_sisa",
    "train_reference",
    "train_shadow",
    "unlearn",
    "evaluate",
    "population",
    "population_shadow",
}
SLURM_RUN_TIMEOUT = 600  # seconds; the run takes 1-3 minutes on 2 cores
TABLES = "results/tables/slurm/metrics.csv"

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.slurm,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the test cluster is Debian's slurm-wlm"),
]


def cannot_run(reason: str):
    """Skip, except in CI, where the SLURM test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the SLURM test, but {reason}")
    pytest.skip(reason)


def which(name: str) -> str | None:
    return shutil.which(name, path=SBIN)


def install_slurm() -> None:
    """Debian's slurm-wlm daemons and client and munge, when a command is missing."""
    missing = [name for name in COMMANDS if which(name) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        cannot_run(f"{missing} not installed, and installing them needs root: apt-get install {' '.join(PACKAGES)}")
    if which("apt-get") is None:
        cannot_run(f"{missing} not installed, and there is no apt-get to install {' '.join(PACKAGES)}")
    # Keep the packages' maintainer scripts from starting the daemons (with the system's
    # config, which there is none of): this test starts its own.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for cmd in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        ):
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    finally:
        if added_policy:
            policy.unlink()
    still_missing = [name for name in COMMANDS if which(name) is None]
    assert not still_missing, f"installed {PACKAGES}, yet {still_missing} not found"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 * 9 // 10  # leave a tenth to the system
    raise AssertionError("no MemTotal in /proc/meminfo")


def slurm_output(env: dict, *args: str) -> str:
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True, timeout=60).stdout


def wait_for(what: str, check, timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.exists())
    raise AssertionError(f"{what} not after {timeout:.0f} s\n{tails}")


def query(env: dict, *args: str) -> str:
    """What a SLURM client prints ('' if it fails or hangs, as it does while the controller is down)."""
    try:
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=30).stdout
    except subprocess.TimeoutExpired:
        return ""


def node_state(env: dict) -> str:
    return query(env, "sinfo", "-h", "-N", "-o", "%T").strip()


def our_jobs(env: dict) -> list[str]:
    """Ids of jobs still queued or running on the test cluster."""
    return query(env, "squeue", "-h", "-o", "%i", "--states=PENDING,RUNNING,COMPLETING,CONFIGURING,SUSPENDED").split()


@pytest.fixture(scope="module")
def cluster():
    """A one-node SLURM cluster; yields the environment its commands need (SLURM_CONF, PATH)."""
    if os.geteuid() != 0:
        cannot_run("the test cluster's daemons run as root, and this is not root")
    install_slurm()

    # munged wants every folder above its socket searchable by all, and its key folder
    # writable by no one else: a folder of our own in /tmp, not pytest's private tmp_path.
    state = Path(tempfile.mkdtemp(prefix="lethe-slurm-"))
    conf = state / "slurm.conf"
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{state / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    for name in list(env):
        if name.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_")) and name != "SLURM_CONF":
            del env[name]  # a test run inside a SLURM job must not talk to that job's cluster
    daemons: list[subprocess.Popen] = []

    def start(*cmd: str) -> None:
        with (state / "log" / f"{Path(cmd[0]).name}.out").open("w") as out:
            daemons.append(
                subprocess.Popen(
                    cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
                )  # Ctrl-C reaches the finalizer, not the daemons
            )

    try:
        state.chmod(0o755)
        for sub, mode in {"munge": 0o700, "run": 0o755, "log": 0o755, "ctld": 0o755, "spool": 0o755}.items():
            (state / sub).mkdir(mode=mode)
        (state / "bin").mkdir(mode=0o755)
        key = state / "munge" / "munge.key"
        key.write_bytes(os.urandom(128))
        key.chmod(0o600)
        socket_path = state / "run" / "munge.sock"
        conf.write_text(
            string.Template((HERE / "slurm.conf.in").read_text()).substitute(
                hostname=socket.gethostname().split(".")[0],
                ctld_port=free_port(),
                slurmd_port=free_port(),
                munge_socket=socket_path,
                state=state,
                cpus=len(os.sched_getaffinity(0)),
                memory_mb=memory_mb(),
            )
        )
        shutil.copy(HERE / "gres.conf", state / "gres.conf")  # slurmd reads it beside slurm.conf
        # The jobstep plugin drops every SLURM_* variable, SLURM_CONF too, before it calls srun
        # inside a job; a real cluster's srun finds /etc/slurm/slurm.conf, ours is told again.
        srun = state / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {which("srun")} "$@"\n')
        srun.chmod(0o755)

        logs = [state / "log" / name for name in ("munged.log", "slurmctld.log", "slurmd.log")]
        start(
            which("munged"),
            "--foreground",
            f"--key-file={key}",
            f"--socket={socket_path}",
            f"--pid-file={state / 'run' / 'munged.pid'}",
            f"--seed-file={state / 'munge' / 'munged.seed'}",
            f"--log-file={logs[0]}",
        )
        wait_for("munged's socket", socket_path.exists, 30, logs)
        start(which("slurmctld"), "-D", "-f", str(conf))
        start(which("slurmd"), "-D", "-N", "localhost", "-f", str(conf))
        wait_for("the node idle", lambda: node_state(env) == "idle", 60, logs + sorted((state / "log").glob("*.out")))
        yield env
    finally:
        if daemons:  # cancel what a failed run left queued or running, then stop the daemons
            jobs = our_jobs(env)
            if jobs:
                query(env, "scancel", *jobs)
                deadline = time.monotonic() + 30
                while our_jobs(env) and time.monotonic() < deadline:
                    time.sleep(0.5)
        for proc in reversed(daemons):  # slurmd, slurmctld, munged: each by its process id
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(state, ignore_errors=True)


# fmt: off
SLURM_ARGS = [
    "--workflow-profile", "workflow/profiles/slurm",
    "--executor", "slurm",
    # What a test cluster without accounting needs:
    "--slurm-no-account",  # none to give (plugin 2.8.0 still tries sacct for one, warns, goes on)
    "--slurm-status-command", "squeue",  # sacct has no job records without slurmdbd
    "--slurm-init-seconds-before-status-checks", "2",  # jobs here take seconds, not hours
    "--slurm-keep-successful-logs",  # so that the test can read every job's SLURM log
]
# fmt: on


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """A copy of the repository in which cluster.yaml has run through SLURM: (workdir, output, run id).

    The run stops at the tables (rule aggregate, a localrule): the paper adds only more
    localrules, which tests/workflow/test_tiny_run.py builds.
    """
    workdir = copy_repository(tmp_path_factory.mktemp("slurm-repo"))
    cmd = [sys.executable, "-m", "snakemake", TABLES, *SLURM_ARGS, "--configfile", str(CONFIG)]
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=cluster, capture_output=True, text=True, timeout=SLURM_RUN_TIMEOUT)
    except subprocess.TimeoutExpired as error:  # stderr comes back as bytes here, text=True or not
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else error.stderr or ""
        raise AssertionError(f"the SLURM run took over {SLURM_RUN_TIMEOUT} s:\n{stderr[-5000:]}") from None
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"the SLURM run failed:\n{output[-6000:]}"
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, f"no SLURM run ID in Snakemake's output:\n{output[-3000:]}"
    return workdir, output, run_id.group(1)


def submitted_jobs(env: dict, run_id: str) -> pd.DataFrame:
    """The run's SLURM jobs as squeue knows them (MinJobAge keeps finished ones for an hour)."""
    fields = {
        "JobID": "id",
        "Comment": "comment",
        "State": "state",
        "tres-per-job": "tres",
        "TimeLimit": "time_limit",
        "MinMemory": "memory",
    }
    out = slurm_output(
        env, "squeue", "--states=all", "-h", "--name", run_id, "-O", ",".join(f"{f}:200" for f in fields)
    )
    jobs = pd.DataFrame([line.split() for line in out.splitlines() if line.strip()], columns=list(fields.values()))
    # The plugin's comment is rule_<rule>[_wildcards_<values>].
    jobs["rule"] = jobs.comment.str.removeprefix("rule_").str.split("_wildcards_").str[0]
    return jobs


def minutes(limit: str) -> float:
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    hours, mins, secs = [0] * (3 - len(parts)) + parts
    return (int(days or 0) * 24 + hours) * 60 + mins + secs / 60


def profile_resource(rule: str, name: str, attempt: int = 1):
    """A resource as the slurm profile sets it for `rule` (its set-resources, else its default-resources)."""
    profile = yaml.safe_load(PROFILE.read_text())
    expr = profile.get("set-resources", {}).get(rule, {}).get(name, profile["default-resources"].get(name))
    return None if expr is None else eval(str(expr), {"__builtins__": {}}, {"attempt": attempt})


def test_jobs_went_through_sbatch(slurm_run, cluster):
    workdir, output, run_id = slurm_run
    jobs = submitted_jobs(cluster, run_id)
    assert len(jobs), f"squeue knows no job of run {run_id}"
    assert (jobs.state == "COMPLETED").all(), jobs.to_string()

    # Every non-local job of the run is one SLURM job, every localrule job runs here.
    remote = Counter(re.findall(r"^rule (\w+):$", output, flags=re.M))
    local = Counter(re.findall(r"^localrule (\w+):$", output, flags=re.M))
    assert Counter(jobs.rule) == remote
    assert {"prepare_dataset", "make_forget_set", "train_original", "unlearn", "evaluate"} <= set(remote)
    assert "aggregate" in local
    assert not set(local) & set(jobs.rule)

    logs = workdir / ".snakemake" / "slurm_logs"
    for job in jobs.itertuples():
        assert list(logs.glob(f"rule_{job.rule}/**/{job.id}.log")), f"no SLURM log of job {job.id} ({job.rule})"


def test_profile_resources_reach_sbatch(slurm_run, cluster):
    """GPU rules ask for one GPU and CPU rules for none; runtime and memory are the profile's."""
    _, _, run_id = slurm_run
    jobs = submitted_jobs(cluster, run_id)
    assert set(jobs.rule) & GPU_RULES and set(jobs.rule) - GPU_RULES, jobs.rule.tolist()
    for job in jobs.itertuples():
        if job.rule in GPU_RULES:  # tres per job: gres:gpu:1 (sbatch --gpus=1), or N/A
            assert re.search(r"\bgpu:1$", job.tres), f"{job.rule} asked for {job.tres}, not one GPU"
        else:
            assert "gpu" not in job.tres, f"CPU rule {job.rule} asked for {job.tres}"
        runtime = profile_resource(job.rule, "runtime")
        assert minutes(job.time_limit) == runtime, f"{job.rule}: time limit {job.time_limit}, profile {runtime} min"
        if job.rule in yaml.safe_load(PROFILE.read_text())["set-resources"]:
            mem = profile_resource(job.rule, "mem_mb")
            assert job.memory == f"{mem}M", f"{job.rule}: memory {job.memory}, profile {mem} MB"


def without_timings(value):
    """A metrics record without its wall-clock fields, which differ from run to run."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if "seconds" not in k and "time_ratio" not in k}
    return value


def test_outputs_match_a_local_run(slurm_run):
    """The tables are made, and the same jobs run locally give the same models and metrics."""
    workdir, _, _ = slurm_run
    tidy = pd.read_csv(workdir / TABLES)
    evaluated = set(tidy[tidy.metric == "acc_forget"].method)
    assert evaluated == {"original", *yaml.safe_load(CONFIG.read_text())["methods"]}
    assert set(tidy.method) - evaluated == {"retrain_twin"}  # its population against retrain's: the null

    retrain = workdir / "results/models/digits/mlp/seed0/class3/retrain.safetensors"
    metrics = workdir / "results/metrics/digits/mlp/seed0/class3/original.json"
    on_slurm = {path: path.read_bytes() for path in (retrain, metrics)}
    # Run two of the SLURM run's jobs again, locally: retrain (a training job) and the
    # original's evaluation (every metric family), which then reads the new retrain.
    targets = [str(path.relative_to(workdir)) for path in (retrain, metrics)]
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(CONFIG), "--force", *targets],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert Counter(re.findall(r"^(local)?rule (\w+):$", output, flags=re.M)) == {
        ("local", "unlearn"): 1,
        ("local", "evaluate"): 1,
    }
    assert retrain.read_bytes() == on_slurm[retrain], "retrain's weights differ between the SLURM and the local run"
    assert without_timings(json.loads(metrics.read_text())) == without_timings(json.loads(on_slurm[metrics]))
