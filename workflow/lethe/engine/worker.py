"""The warm worker of a local run: Python, torch and the package started once, one forked child per job.

On a 2-core laptop, a job of the default run spends about 0.1 s on its science and
several seconds on starting Python and importing torch, scikit-learn, ART and the
package. When the workflow runs locally (workflow/rules/common.smk, ``onstart``), it
starts one worker: a process that imports all of that once and listens on a Unix
socket in a private temporary folder, named to the jobs by the environment variable
``LETHE_WORKER``. Each job (``python workflow/job.py ...``, :mod:`lethe.engine.job`) sends the
worker its description, its stdout and stderr (as file descriptors) and its
environment; the worker forks a child that takes over those, runs the job exactly as a
plain process would (:func:`lethe.engine.job.run`) and exits; the worker reports the child's
exit status, CPU time and peak memory back to the job, which exits with that status.
So every job is still its own process, seeded by its own stage, with its own log, and:

* a job that crashes (an exception, a segfault, ``os._exit``) ends only its child: the
  job fails with the child's status and the worker serves the next job;
* a job that Snakemake kills (Ctrl-C, ``--keep-going`` after a failure) hangs up its
  connection, and the worker kills the child's process group;
* a worker that is not running, not reachable or that dies before forking the job's
  child leaves the job to run in its own process (nothing is lost but the start-up
  time); one that dies while a child runs fails that job, which a rerun repeats;
* the worker exits when Snakemake stops it (``onsuccess`` / ``onerror``) or when the
  Snakemake process that started it is gone, killing any child still running.

The worker never runs job code itself: it imports modules and forks, so no thread pool
or CUDA context exists in it to be inherited (each child sets its own threads and
initialises CUDA on its own). Code edited while a run is going is not seen by the jobs
that follow in that run; the next run starts a new worker.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from lethe.engine.client import HEADER, STD_FDS

# Imported by the worker besides every module of the package: what most jobs use and
# load lazily (torch's compiler stack, which the first optimizer imports; the
# evaluation's ART attacks; scikit-learn's models; threadpoolctl).
PRELOAD = (
    "torch._dynamo",
    "art.attacks.inference.membership_inference",
    "art.estimators.classification",
    "sklearn.linear_model",
    "sklearn.svm",
    "sklearn.model_selection",
    "sklearn.metrics",
    "threadpoolctl",
)
# Never imported by the worker: the CLI and Snakemake's side of the workflow (no job runs them).
SKIP = ("lethe.cli", "lethe.engine.workflow")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def preload_order(extra: tuple[str, ...] = ()) -> list[str]:
    """What the worker imports, in order: torch, every module of the package, PRELOAD, ``extra``."""
    import lethe

    names = [m.name for m in pkgutil.walk_packages(lethe.__path__, "lethe.") if m.name not in SKIP]
    return ["torch", *names, *PRELOAD, *extra]


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    """One request: (its JSON, the job's stdout and stderr descriptors)."""
    conn.settimeout(30)
    data, fds, _, _ = socket.recv_fds(conn, HEADER.size, len(STD_FDS))
    while len(data) < HEADER.size:
        more = conn.recv(HEADER.size - len(data))
        if not more:
            raise ConnectionError("the job hung up before its request was read")
        data += more
    (length,) = HEADER.unpack(data)
    payload = bytearray()
    while len(payload) < length:
        chunk = conn.recv(min(65536, length - len(payload)))
        if not chunk:
            raise ConnectionError("the job hung up before its request was read")
        payload.extend(chunk)
    conn.settimeout(None)
    if len(fds) != len(STD_FDS):
        raise ConnectionError(f"expected {len(STD_FDS)} file descriptors with the request, got {len(fds)}")
    return json.loads(payload), fds


def _child(request: dict, fds: list[int]) -> int:
    """In the forked child: become the job's process and run it; the exit status."""
    from lethe.engine.job import run

    os.setpgid(0, 0)
    for target, fd in zip(STD_FDS, fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.environ.clear()
    os.environ.update(request["environment"])
    threads = int(os.environ.get("OMP_NUM_THREADS") or request["spec"]["threads"])
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)  # BLAS as a fresh process with this environment would start
    try:
        run(request["spec"])
        return 0
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
        return 1


def serve(address: str, parent: int, extra: tuple[str, ...] = ()) -> None:
    """Listen at ``address`` and fork a child per request until stopped or orphaned, importing in the gaps."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(128)
    # Imports happen one module at a time whenever no job is waiting, so the first jobs
    # start at once (importing what is not there yet, as a fresh process would) and no
    # fork ever happens in the middle of an import.
    pending = preload_order(extra)
    failed: list[str] = []
    started = time.perf_counter()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_read, selectors.EVENT_READ, "signal")
    running: dict[int, socket.socket] = {}

    def reap() -> None:
        while running:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = running.pop(pid, None)
            if conn is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            result = {
                "returncode": code if code >= 0 else 128 - code,
                "signal": signal.Signals(-code).name if code < 0 else None,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "max_rss_mb": usage.ru_maxrss / 1024,
            }
            selector.unregister(conn)
            try:
                conn.sendall(json.dumps(result).encode() + b"\n")
            except OSError:
                pass
            conn.close()

    def accept() -> None:
        conn, _ = listener.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError) as error:
            print(f"lethe worker: bad request ({error})", file=sys.stderr, flush=True)
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the job's process
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGCHLD, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_DFL)
                selector.close()
                listener.close()
                conn.close()
                for other in running.values():
                    other.close()
                os.close(wake_read)
                os.close(wake_write)
                code = _child(request, fds)
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        for fd in fds:
            os.close(fd)
        running[pid] = conn
        selector.register(conn, selectors.EVENT_READ, pid)
        try:
            conn.sendall(json.dumps({"started": pid}).encode() + b"\n")
        except OSError:
            pass  # the job hung up: seen as EOF below

    try:
        while not stopping and os.getppid() == parent:
            events = selector.select(timeout=0 if pending else 1.0)
            if not events and pending:
                name = pending.pop(0)
                try:
                    importlib.import_module(name)
                except Exception:  # an optional dependency the jobs may never need
                    failed.append(name)
                if not pending:
                    print(
                        f"lethe worker {os.getpid()}: imports done in {time.perf_counter() - started:.1f}s"
                        + (f" (not importable, left to the jobs: {', '.join(failed)})" if failed else ""),
                        file=sys.stderr,
                        flush=True,
                    )
                continue
            for key, _ in events:
                if key.data == "accept":
                    accept()
                elif key.data == "signal":
                    try:
                        os.read(wake_read, 4096)
                    except BlockingIOError:
                        pass
                elif isinstance(key.data, int) and key.data in running:
                    if not key.fileobj.recv(1):  # the job hung up (killed): end its process
                        try:
                            os.killpg(key.data, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            reap()
    finally:
        for pid in list(running):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        listener.close()
        try:
            os.unlink(address)
        except FileNotFoundError:
            pass


# --- started and stopped by the workflow ---------------------------------------------


class Worker:
    """A started worker: its process and the address the jobs use."""

    def __init__(self, process: subprocess.Popen, address: str, log: Path):
        self.process, self.address, self.log = process, address, log

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(Path(self.address).parent, ignore_errors=True)


def start(
    package_root: str | Path, log: str | Path, extra: tuple[str, ...] = (), timeout: float = 10.0
) -> Worker | None:
    """Start a worker for the calling (Snakemake) process; None if it did not come up.

    ``package_root`` is the folder holding the ``lethe`` package (the checkout's
    ``workflow/``); ``log`` receives the worker's own messages. Returns once the worker
    listens: jobs that connect while it imports wait for it.
    """
    folder = tempfile.mkdtemp(prefix="lethe-worker-")  # private (0700): only this user connects
    address = os.path.join(folder, "socket")
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_root), os.environ.get("PYTHONPATH", "")])}
    environment.update(dict.fromkeys(THREAD_VARIABLES, "1"))  # BLAS pools as small as a 1-thread job's
    with log.open("a") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "lethe.engine.worker", address, "--parent", str(os.getpid()), *extra],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,  # Ctrl-C reaches Snakemake, which stops the worker
        )
    deadline = time.monotonic() + timeout
    while not os.path.exists(address):
        if process.poll() is not None or time.monotonic() > deadline:
            Worker(process, address, log).stop()
            return None
        time.sleep(0.01)
    return Worker(process, address, log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lethe.engine.worker", description=__doc__.splitlines()[0])
    parser.add_argument("address", help="the Unix socket to listen on")
    parser.add_argument("--parent", type=int, required=True, help="exit when this process is gone")
    parser.add_argument("extra", nargs="*", help="more modules to import up front")
    args = parser.parse_args(argv)
    serve(args.address, args.parent, tuple(args.extra))


if __name__ == "__main__":
    main()
