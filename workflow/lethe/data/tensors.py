"""Whole datasets as in-memory tensors, batched by index (no per-sample DataLoader)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lethe.data.datasets import load_prepared


@dataclass
class Split:
    """Images (float, normalised, N×C×H×W) and integer labels, on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: torch.Tensor | np.ndarray | list[int]) -> Split:
        index = torch.as_tensor(np.asarray(index), dtype=torch.long, device=self.y.device)
        return Split(self.x[index], self.y[index])

    def mask(self, keep: torch.Tensor) -> Split:
        return Split(self.x[keep], self.y[keep])

    def without_classes(self, classes) -> Split:
        """The samples whose label is not in ``classes`` (all of them for None: random-sample forgetting)."""
        if classes is None:
            return self
        return self.mask(~torch.isin(self.y, torch.as_tensor(list(classes), device=self.y.device)))

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class Dataset:
    """A prepared dataset in tensors: ``train`` (every model's training data), ``val`` (the
    validation split carved from the source's training images, which no model trains on:
    for methods and searches to measure themselves on) and ``test`` (the evaluation's)."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    classes: list[str]
    manifest: dict


def normalise(x: np.ndarray, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 N×C×H×W → float32, scaled to [0, 1] then standardised per channel."""
    tensor = torch.from_numpy(x).float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1).clamp_min(1e-6)
    return (tensor - mean_t) / std_t


def load_dataset(npz_path: str | Path, manifest_path: str | Path, device: torch.device) -> Dataset:
    """Load a prepared dataset into tensors on ``device`` (the npz checked against the manifest's sha256)."""
    manifest, arrays = load_prepared(npz_path, manifest_path)

    def split(prefix: str) -> Split:
        x = normalise(arrays[f"x_{prefix}"], manifest["mean"], manifest["std"])
        y = torch.from_numpy(arrays[f"y_{prefix}"].astype(np.int64))
        return Split(x.to(device), y.to(device))

    return Dataset(
        name=manifest["name"],
        train=split("train"),
        val=split("val"),
        test=split("test"),
        num_classes=int(manifest["num_classes"]),
        classes=list(manifest["classes"]),
        manifest=manifest,
    )


def index_batches(
    n: int, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = True
) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n)`` in batches; shuffled with ``generator``."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]
