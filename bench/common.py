"""What every benchmark records: the machine, the versions, the date, the command; and the JSON/Markdown output."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from lethe.io import write_json

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path("results/bench")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(repo: Path = REPO) -> str | None:
    """HEAD of ``repo`` (default: this repository), with ``-dirty`` when its working tree has changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment(device=None) -> dict:
    """The machine and software a number was measured on.

    ``device`` is the torch device the benchmark computed on (None: it ran no tensors
    itself). The load average is taken at the start: a busy machine slows every number.
    """
    import torch

    info = {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "git_commit": git_commit(),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        info["torchvision"] = None
    if device is not None:
        info["device"] = str(device)
        if device.type == "cuda":
            index = device.index if device.index is not None else torch.cuda.current_device()
            info["cuda_device"] = torch.cuda.get_device_name(index)
            info["cuda_version"] = torch.version.cuda
            info["cudnn_version"] = torch.backends.cudnn.version()
    return info


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def command(argv: list[str]) -> str:
    """The exact command that reproduces this measurement (run from the repository root)."""
    return shlex.join(["python", "-m", "bench", *argv])


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals; "n/a" for None."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def sig(value: float | None, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits (ratios span 1e-4 to 10); "n/a" for None."""
    return "n/a" if value is None else f"{value:.{digits}g}"


def save(out: Path, record: dict) -> Path:
    """Write ``record`` as JSON (atomically) and print its Markdown table."""
    write_json(out, record)
    print(record["markdown"])
    print(f"\n(written to {out})", file=sys.stderr)
    return out
