"""Device choice and seeding: one code path for CPU and CUDA."""

from __future__ import annotations

import random

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """Map the config's ``device`` (auto|cpu|cuda) to a torch device."""
    if name not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device: cuda, but torch sees no CUDA device")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator for index permutations."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def set_threads(threads: int | None) -> None:
    """Use the thread count Snakemake granted the job (intra-op parallelism)."""
    if threads is not None and threads > 0:
        torch.set_num_threads(int(threads))


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work so that wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warm_up(device: torch.device) -> None:
    """Pay torch's one-time costs before a timed region.

    The first optimiser built in a process costs about a second on CPU (lazy imports
    inside torch.optim); left inside the clock it would swamp the cost of small
    unlearning runs and distort every ratio to retraining.
    """
    param = torch.nn.Parameter(torch.zeros(4, device=device))
    for opt in (torch.optim.Adam([param], lr=1e-3), torch.optim.SGD([param], lr=1e-3, momentum=0.9)):
        param.grad = torch.ones_like(param)
        opt.step()
    synchronize(device)
