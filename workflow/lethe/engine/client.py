"""The job's side of the warm worker (:mod:`lethe.engine.worker`): hand a job to it and wait.

A job (:mod:`lethe.engine.job`) sends the worker one request over its Unix socket: a header
with the byte length of the JSON that follows (the job's description and environment), with
the job's stdout and stderr as file descriptors. The worker answers two lines: one when it
has forked the job's process, one with its exit status. Only the standard library is
imported here: the client side costs milliseconds, and the job's code stamp
(:mod:`lethe.engine.stamps`) does not list the worker's server side.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

HEADER = struct.Struct("!Q")  # the byte length of the JSON request that follows
STD_FDS = (1, 2)  # the job's stdout and stderr, sent with the request


def _read_line(sock: socket.socket, buffer: bytearray) -> bytes | None:
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


def submit(address: str, spec: dict) -> int | None:
    """Run the job ``spec`` in the worker at ``address``; its exit status.

    None when no worker took the job (none listening, or it went away before starting
    the job's process): the caller then runs the job itself.
    """
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
    except OSError:
        return None
    with sock:
        payload = json.dumps({"spec": spec, "environment": dict(os.environ)}).encode()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            socket.send_fds(sock, [HEADER.pack(len(payload))], list(STD_FDS))
            sock.sendall(payload)
        except OSError:
            return None
        buffer = bytearray()
        started = _read_line(sock, buffer)
        if started is None:
            return None  # the worker went away before forking: nothing ran
        finished = _read_line(sock, buffer)
    if finished is None:
        print("lethe: the worker stopped while this job ran; the job failed (rerun it)", file=sys.stderr)
        return 1
    result = json.loads(finished)
    if result.get("signal"):
        print(f"lethe: the job's process was killed by {result['signal']}", file=sys.stderr)
    return int(result["returncode"])
