"""The datasets Lethe knows, with the facts the workflow needs at parse time.

Torch-free on purpose: the Snakefile imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    shape: tuple[int, int, int]  # channels, height, width
    source: str  # sklearn | idx | torchvision


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("digits", 10, (1, 8, 8), "sklearn"),
        DatasetInfo("fashion_mnist", 10, (1, 28, 28), "idx"),
        DatasetInfo("mnist", 10, (1, 28, 28), "torchvision"),
        DatasetInfo("cifar10", 10, (3, 32, 32), "torchvision"),
        DatasetInfo("cifar100", 100, (3, 32, 32), "torchvision"),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None
