"""What every unlearning method receives and returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from lethe.data.tensors import Split


@dataclass
class UnlearningData:
    """The data a method may see. Fields a method did not declare a need for are None.

    ``forget``: training samples to forget; ``retain``: the other training samples;
    ``validation``: the dataset's validation split (held out of every model's training
    data; a method that measures itself, to stop or to accept, measures on it). The test
    set is the evaluation's and never reaches a method. ``forget_classes``: the forgotten class ids, or None for
    random-sample forgetting. ``mean``/``std``: the dataset's per-channel normalisation
    (images are ``(pixel − mean) / std`` with pixels in [0, 1]), for methods that work in
    pixel space (an FGSM bound); None where unknown.
    """

    forget: Split | None
    retain: Split | None
    validation: Split
    num_classes: int
    forget_classes: tuple[int, ...] | None
    shape: tuple[int, int, int]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    # Training-set indices (rows of the dataset's train split) of ``forget`` / ``retain``,
    # row for row; present exactly where the split is. SISA maps samples to its shards by them.
    forget_indices: np.ndarray | None = None
    retain_indices: np.ndarray | None = None


@dataclass
class Context:
    """Run context: device, seed, architecture name, and cost counters filled by the method.

    ``amp`` and ``memory_format`` are the config's settings (:mod:`lethe.device`): a
    method passes ``amp=ctx.amp`` to :func:`lethe.train.fit`, and puts a model it builds
    on the device with :func:`lethe.device.prepare_model` and ``ctx.memory_format``.
    """

    device: torch.device
    seed: int
    arch: str
    amp: bool | str = False
    memory_format: str = "auto"
    steps: int = 0  # optimiser (gradient) steps
    samples: int = 0  # samples that went through a forward pass with gradients
    notes: dict = field(default_factory=dict)

    def count(self, fit_result) -> None:
        """Add a :class:`lethe.train.FitResult`'s steps and samples to the counters."""
        self.steps += fit_result.steps
        self.samples += fit_result.samples
