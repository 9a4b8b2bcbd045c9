"""Device choice, seeding, mixed precision and memory format: one code path for CPU and CUDA.

Mixed precision (the config's ``amp``) and the memory format (``memory_format``) are
resolved here and nowhere else; :func:`lethe.train.fit` and the batched forward passes
of :mod:`lethe.metrics.predict` use :func:`autocast` and :func:`grad_scaler`, and every
stage puts its models on the device with :func:`prepare_model`.

Which half precision ``amp: true`` means (:func:`amp_dtype`): bfloat16 on the CPU, and on
CUDA bfloat16 where the GPU computes it natively (compute capability 8.0 and later:
A100, H100), else float16. bfloat16 keeps float32's exponent range, so gradients neither
underflow nor overflow and no loss scaling is needed: no optimiser step is skipped, and
step counts (a reported cost) mean the same with and without AMP. float16 (the only
half precision of older GPUs, or forced with ``amp: float16``) has a narrow range, so
:func:`fit <lethe.train.fit>` pairs it with a :class:`torch.amp.GradScaler`: the loss is
scaled before ``backward``, ``step`` unscales the gradients and skips the step when any
is not finite, and ``update`` adapts the scale. Weights, optimiser state and losses
stay float32 in every case (autocast changes the precision of operations, not of
parameters).
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = (False, True, "bfloat16", "float16")
MEMORY_FORMATS = ("auto", "contiguous", "channels_last")


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


# --------------------------------------------------------------------------- mixed precision


def _cuda_bf16() -> bool:
    """Whether the current CUDA device computes bfloat16 natively (not emulated)."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch before 2.3 has no including_emulation (and did not emulate)
        return bool(torch.cuda.is_bf16_supported())


def amp_dtype(amp: bool | str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the config's ``amp`` on ``device``; None means plain float32.

    ``False``: float32. ``True``: bfloat16 on the CPU; on CUDA bfloat16 where the GPU
    supports it natively, else float16 (see the module docstring for why).
    ``"bfloat16"`` / ``"float16"``: that dtype on any device.
    """
    if amp is False:
        return None
    if amp is True:
        if device.type == "cuda" and not _cuda_bf16():
            return torch.float16
        return torch.bfloat16
    if amp in ("bfloat16", "float16"):
        return getattr(torch, amp)
    raise ValueError(f"amp must be one of {AMP_MODES}, got {amp!r}")


def amp_name(dtype: torch.dtype | None) -> str | None:
    """``"bfloat16"``, ``"float16"`` or None (float32): what a run record stores."""
    return None if dtype is None else str(dtype).removeprefix("torch.")


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """``torch.autocast`` on ``device`` in ``dtype``; a no-op context when ``dtype`` is None."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A loss scaler for float16 autocast (its range needs one); None for bfloat16 and float32."""
    return torch.amp.GradScaler(device.type) if dtype == torch.float16 else None


# --------------------------------------------------------------------------- memory format


def is_convolutional(model: nn.Module) -> bool:
    """Whether ``model`` has a 2-d convolution (the layers channels_last speeds up)."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def memory_format_of(name: str, device: torch.device, model: nn.Module) -> torch.memory_format:
    """The config's ``memory_format`` for ``model`` on ``device``.

    ``auto``: channels_last for convolutional models on CUDA (where cuDNN's NHWC kernels
    use the tensor cores best), contiguous otherwise, so CPU runs are as before.
    """
    if name not in MEMORY_FORMATS:
        raise ValueError(f"memory_format must be one of {MEMORY_FORMATS}, got {name!r}")
    if name == "channels_last" or (name == "auto" and device.type == "cuda" and is_convolutional(model)):
        return torch.channels_last
    return torch.contiguous_format


def prepare_model(model: nn.Module, device: torch.device, memory_format: str = "auto") -> nn.Module:
    """Move ``model`` to ``device`` in the memory format the config asks for; returns it.

    channels_last converts the 4-d weights (convolution kernels) only. The data stay
    NCHW: a convolution whose weight is channels_last picks the channels_last kernel
    and its output, and so every later activation, is channels_last (cuDNN and oneDNN
    choose the layout from the input or the weight). Checkpoints are saved contiguous.
    """
    model = model.to(device)
    fmt = memory_format_of(memory_format, device, model)
    if fmt == torch.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def memory_format_name(model: nn.Module) -> str:
    """``"channels_last"`` when every 4-d weight of ``model`` is channels_last (and one exists), else ``"contiguous"``."""
    kernels = [p for p in model.parameters() if p.dim() == 4]
    if kernels and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels):
        return "channels_last"
    return "contiguous"


@dataclass(frozen=True)
class Runtime:
    """Where and how a job computes: the config's ``device``, ``amp`` and ``memory_format``
    and the CPU threads its rule was granted. Every stage that trains or evaluates takes
    one (the rules pass the config's values, the CLI its options)."""

    device: str = "auto"
    amp: bool | str = False
    memory_format: str = "auto"
    threads: int | None = None

    @classmethod
    def from_job(cls, job) -> Runtime:
        """A rule job's runtime (:class:`lethe.engine.job.Job`): its params ``device``, ``amp`` (float32
        where the rule has none) and ``memory_format``, and its threads."""
        return cls(job.params.device, job.params.get("amp", False), job.params.memory_format, job.threads)

    def start(self) -> tuple[torch.device, str | None]:
        """Set the threads, resolve the device and check ``amp`` before any work: the
        device to compute on and the precision's name (``bfloat16``, ``float16``, None)."""
        set_threads(self.threads)
        device = resolve_device(self.device)
        return device, amp_name(amp_dtype(self.amp, device))

    def start_training(self, npz_path, manifest_path, seed: int):
        """:meth:`start`, every generator seeded with ``seed``, then the dataset on the device
        (:func:`lethe.data.tensors.load_dataset`): (device, precision's name, dataset)."""
        from lethe.data.tensors import load_dataset

        device, precision = self.start()
        seed_everything(seed)
        return device, precision, load_dataset(npz_path, manifest_path, device)


# The default of every stage: auto device, float32, automatic memory format, all threads.
DEFAULT_RUNTIME = Runtime()
