"""Data augmentation as batched tensor operations on the device that holds the data, seeded.

A recipe's ``augment`` is a list of steps applied in order to every training mini-batch
(N×C×H×W, already normalised), each a one-key mapping:

* ``{crop: P}``: pad every side by P pixels with the image's black (raw pixel value 0, which
  after normalisation is ``-mean/std`` per channel: ``fill``) and crop back to H×W at an
  offset drawn uniformly from ``0..2P`` in each direction, per image, as torchvision's
  ``RandomCrop(size, padding=P)`` does;
* ``{flip: p}``: mirror each image left to right with probability ``p``, as torchvision's
  ``RandomHorizontalFlip(p)``.

Draws come from a generator of their own (:class:`Augmenter`, seeded from the run's seed),
on the CPU, and are moved to the data's device: the batch order and every other draw of a
run are the same with and without augmentation, and a CPU run stays bit-reproducible.
There is no per-image Python and no DataLoader: one padded copy of the batch and one gather.
``tests/unit/test_augment.py`` checks each step against torchvision's functional transforms
for the same offsets and flips.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

STEPS = {"crop": "pixels of padding on each side (integer >= 1)", "flip": "probability of a horizontal flip (0-1]"}
SEED_OFFSET = 0x5EED  # the augmenter's generator: the run's seed plus this, apart from the batch order's


def parse(spec: Sequence) -> list[tuple[str, float]]:
    """``[(step, value), ...]`` from a recipe's ``augment`` list; one error naming the bad entry."""
    steps = []
    for i, entry in enumerate(spec or ()):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError(f"augment[{i}]: {entry!r} is not a one-key mapping such as {{crop: 4}} or {{flip: 0.5}}")
        ((name, value),) = entry.items()
        if name not in STEPS:
            raise ValueError(
                f"augment[{i}]: unknown step {name!r}; known: {', '.join(f'{k} ({v})' for k, v in STEPS.items())}"
            )
        if name == "crop" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"augment[{i}]: crop takes {STEPS['crop']}, got {value!r}")
        if name == "flip" and (not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1):
            raise ValueError(f"augment[{i}]: flip takes {STEPS['flip']}, got {value!r}")
        steps.append((name, value))
    return steps


def random_crop(x: torch.Tensor, padding: int, offsets: torch.Tensor, fill: torch.Tensor | None = None) -> torch.Tensor:
    """Pad ``x`` (N×C×H×W) by ``padding`` with ``fill`` (per channel; 0 when None) and crop H×W at
    ``offsets`` (N×2: top, left in the padded image, each in ``0..2*padding``)."""
    n, c, h, w = x.shape
    padded = x.new_empty((n, c, h + 2 * padding, w + 2 * padding))
    padded[:] = 0.0 if fill is None else fill.view(1, c, 1, 1).to(x)
    padded[:, :, padding : padding + h, padding : padding + w] = x
    offsets = offsets.to(x.device)
    rows = offsets[:, 0:1] + torch.arange(h, device=x.device)  # N×H
    cols = offsets[:, 1:2] + torch.arange(w, device=x.device)  # N×W
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows.view(n, h, 1), cols.view(n, 1, w)]  # N×H×W×C
    return out.permute(0, 3, 1, 2).contiguous(memory_format=torch.contiguous_format)


def flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror the images of ``x`` whose ``mask`` entry is True, left to right."""
    return torch.where(mask.to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)


class Augmenter:
    """The ``augment`` steps of a recipe, applied to each mini-batch with draws from its own seeded generator."""

    def __init__(self, spec: Sequence, seed: int, fill: Sequence[float] | None = None):
        self.steps = parse(spec)
        self.generator = torch.Generator().manual_seed(int(seed) + SEED_OFFSET)
        self.fill = None if fill is None else torch.tensor([float(v) for v in fill], dtype=torch.float32)

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for name, value in self.steps:
            if name == "crop":
                offsets = torch.randint(0, 2 * value + 1, (len(x), 2), generator=self.generator)
                x = random_crop(x, value, offsets, self.fill)
            else:
                x = flip(x, torch.rand(len(x), generator=self.generator) < value)
        return x


def black(mean: Sequence[float], std: Sequence[float]) -> list[float]:
    """The normalised value of a raw 0 pixel per channel: what torchvision pads with before normalising."""
    return [-float(m) / max(float(s), 1e-6) for m, s in zip(mean, std, strict=True)]
