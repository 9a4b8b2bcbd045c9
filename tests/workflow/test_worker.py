"""The warm worker (lethe.engine.worker) and the job entry (lethe.engine.job): a job runs the same in
the worker and in its own process; crashes, hang-ups, a missing worker and an orphaned
worker are each handled.

The jobs here are small stage modules written into a scratch ``workflow/`` whose ``lethe``
links every part of the package but ``stages/``, so the worker serves the production code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lethe.engine import job as lethe_job
from lethe.engine import worker

REPO = Path(__file__).resolve().parents[2]

STAGES = {
    # Writes what it saw: the job's fields, its process, its thread variable.
    "echo": """
import json, os, sys
def main(job):
    print("echo to stdout")
    print("echo to stderr", file=sys.stderr)
    record = {
        "input": dict(job.input.items()), "params": dict(job.params.items()),
        "wildcards": dict(job.wildcards.items()), "threads": job.threads,
        "pid": os.getpid(), "ppid": os.getppid(), "omp": os.environ.get("OMP_NUM_THREADS"),
        "marker": os.environ.get("LETHE_TEST_MARKER"),
    }
    with open(job.output[0], "w") as handle:
        json.dump(record, handle)
""",
    "raises": """
def main(job):
    raise ValueError("a bug in a stage")
""",
    "segfault": """
import os, signal
def main(job):
    os.kill(os.getpid(), signal.SIGSEGV)
""",
    "sleeps": """
import os, time
def main(job):
    with open(job.output[0], "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(60)
""",
}


@pytest.fixture(scope="module")
def workflow_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workflow_copy") / "workflow"
    package = root / "lethe"
    (package / "stages").mkdir(parents=True)
    for entry in (REPO / "workflow" / "lethe").iterdir():
        if entry.name not in ("stages", "__pycache__"):
            (package / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (package / "stages" / "__init__.py").write_text("")
    (root / "job.py").write_text((REPO / "workflow" / "job.py").read_text())
    for name, text in STAGES.items():
        (package / "stages" / f"{name}.py").write_text(text)
    return root


@pytest.fixture(scope="module")
def running(workflow_dir, tmp_path_factory):
    started = worker.start(workflow_dir, tmp_path_factory.mktemp("log") / "worker.log")
    assert started is not None, "the worker did not start"
    yield started
    started.stop()
    assert started.process.poll() is not None and not Path(started.address).exists()


def spec(stage: str, output: Path, log: Path | None = None) -> str:
    class Named(list):
        def __init__(self, items=(), names=None):
            super().__init__(items)
            self.names = names or {}

        def items(self):
            return self.names.items()

    return lethe_job.spec(
        stage,
        Named(names={"seed": "0"}),
        Named(names={"npz": "data.npz", "files": ["a", "b"]}),
        Named([str(output)]),
        {"hyper": {"lr": 0.003, "epochs": 2}, "flag": None},
    )


def run_job(workflow_dir: Path, stage: str, output: Path, address: str | None, **popen) -> subprocess.Popen:
    """``python workflow/job.py SPEC --log LOG --threads 1`` as Snakemake's shell starts it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", lethe_job.WORKER_ENV)}
    env.update({"OMP_NUM_THREADS": "1", "LETHE_TEST_MARKER": stage})
    if address is not None:
        env[lethe_job.WORKER_ENV] = address
    log = output.with_suffix(".log")
    command = [sys.executable, str(workflow_dir / "job.py"), spec(stage, output), "--log", str(log), "--threads", "1"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def finished(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_a_job_runs_alike_in_the_worker_and_in_its_own_process(workflow_dir, running, tmp_path):
    code, out, err = finished(run_job(workflow_dir, "echo", tmp_path / "worker.json", running.address))
    assert code == 0, err
    assert "echo to stdout" in out and "echo to stderr" in err  # the job's own stdout and stderr
    in_worker = json.loads((tmp_path / "worker.json").read_text())
    assert in_worker["ppid"] == running.process.pid  # forked by the worker

    proc = run_job(workflow_dir, "echo", tmp_path / "plain.json", "off")
    code, out, err = finished(proc)
    assert code == 0, err
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert plain["pid"] == proc.pid  # ran in the job's own process
    for record in (in_worker, plain):
        record.pop("pid"), record.pop("ppid")
    assert in_worker == plain
    assert plain["params"] == {"hyper": {"lr": 0.003, "epochs": 2}, "flag": None}
    assert plain["input"] == {"npz": "data.npz", "files": ["a", "b"]}
    assert plain["omp"] == "1" and plain["marker"] == "echo"  # the job's environment, not the worker's


@pytest.mark.parametrize(
    ("stage", "returncode", "message"),
    [("raises", 1, "ValueError: a bug in a stage"), ("segfault", 128 + signal.SIGSEGV, "killed by SIGSEGV")],
)
def test_a_crashing_job_fails_alone_and_the_worker_serves_the_next(
    workflow_dir, running, tmp_path, stage, returncode, message
):
    code, _, err = finished(run_job(workflow_dir, stage, tmp_path / "out.json", running.address))
    assert code == returncode and message in err
    if stage == "raises":  # the traceback is in the job's log too
        assert "ValueError: a bug in a stage" in (tmp_path / "out.log").read_text()
    assert running.process.poll() is None
    code, _, err = finished(run_job(workflow_dir, "echo", tmp_path / "next.json", running.address))
    assert code == 0, err
    assert json.loads((tmp_path / "next.json").read_text())["ppid"] == running.process.pid


def test_without_a_worker_the_job_runs_in_its_own_process(workflow_dir, tmp_path):
    proc = run_job(workflow_dir, "echo", tmp_path / "out.json", str(tmp_path / "no-such-socket"))
    code, _, err = finished(proc)
    assert code == 0, err
    assert json.loads((tmp_path / "out.json").read_text())["pid"] == proc.pid


def wait_until_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def wait_for_text(path: Path, seconds: float = 60.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written")


def test_a_killed_job_ends_its_process_in_the_worker(workflow_dir, running, tmp_path):
    proc = run_job(workflow_dir, "sleeps", tmp_path / "pid", running.address)
    child = int(wait_for_text(tmp_path / "pid"))
    assert child != proc.pid
    proc.kill()  # what Snakemake does to a job it cancels
    proc.wait()
    assert wait_until_gone(child), "the job's process outlived its job"
    assert running.process.poll() is None


def test_the_worker_exits_with_the_process_that_started_it(workflow_dir, tmp_path):
    starter = f"""
import sys
sys.path.insert(0, {str(workflow_dir)!r})
from lethe.engine import worker
started = worker.start({str(workflow_dir)!r}, {str(tmp_path / "worker.log")!r})
print(started.process.pid, started.address, flush=True)
"""  # exits at once without stopping it, as a killed Snakemake would
    out = subprocess.run([sys.executable, "-c", starter], capture_output=True, text=True, check=True).stdout
    pid, address = out.split()
    assert wait_until_gone(int(pid)), "an orphaned worker kept running"
    assert not Path(address).exists()


def test_the_worker_imports_the_package_and_nothing_it_was_not_asked_for():
    names = worker.preload_order(("timm",))
    assert names[0] == "torch" and names[-1] == "timm"
    assert "lethe.stages.unlearn" in names and "lethe.methods.finetune" in names
    assert not any(name in worker.SKIP for name in names)
    assert "timm" not in worker.preload_order()
