"""Recovering from a killed Snakemake: stale locks are cleared, a live run's are kept.

Snakemake locks a working directory by writing files under ``.snakemake/locks/`` and
removing them when it exits. A run killed with SIGKILL (or by an out-of-memory killer,
a lost SSH session without nohup, a node failure) cannot remove them, and the next run
then stops with ``LockException`` until someone runs ``--unlock``, which would as
readily unlock a directory that another live run is using.

Each Snakemake process of this workflow that schedules jobs holds an advisory lock
(``flock``) on ``.snakemake/lethe.lock`` for as long as it lives; the kernel releases
it when the process dies, however it dies. A new run that obtains the lock therefore
knows that no other run of this workflow is alive in the directory, and that any
Snakemake lock files left there are stale: it removes them, and Snakemake proceeds
(``rerun-incomplete`` then reruns the job that was cut off). A run that cannot obtain
the lock leaves the lock files alone, so Snakemake still refuses a second concurrent run.
Dry runs only look: they clear stale locks when they can, and do not hold the lock.

``flock`` is advisory and local to one machine's kernel on some network file systems;
on those, run one Snakemake per working directory, as Snakemake itself requires.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

LOCK_NAME = "lethe.lock"
_held: list = []  # open lock files of this process, kept so the lock lives as long as it


def claim(snakemake_dir: str | Path = ".snakemake", hold: bool = True) -> str | None:
    """Take this directory's run lock; when taken, remove stale Snakemake locks.

    Returns a one-line note of what was done (None when there was nothing to do):
    ``hold=False`` (a dry run) releases the lock at once. When another live process
    holds the lock, nothing is touched and the note says which process it is.
    """
    directory = Path(snakemake_dir)
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_NAME, "a+")  # noqa: SIM115 (kept open: the lock lives with it)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        return f"another Snakemake run of this workflow (pid {owner}) is using {directory.resolve().parent}"
    note = None
    locks = directory / "locks"
    if locks.is_dir() and any(locks.iterdir()):
        shutil.rmtree(locks)
        note = f"removed stale Snakemake locks in {locks} (no live run of this workflow holds the directory)"
    if hold:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _held.append(handle)
    else:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
    return note
