"""The datasets Lethe knows, with the facts the workflow needs at parse time.

:data:`DATASETS` holds the built-in ones. A config adds its own image folders (config key
``imagefolders``, :mod:`lethe.data.imagefolder`): the plan (:class:`lethe.plan.Plan`) builds
their :class:`DatasetInfo` from the config and the class folders, and passes them wherever a
dataset is looked up (``extra`` of :func:`dataset_info`).

Torch-free on purpose: the Snakefile imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    shape: tuple[int, int, int]  # channels, height, width
    source: str  # sklearn | idx | torchvision | imagefolder


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


def dataset_info(name: str, extra: Mapping[str, DatasetInfo] | None = None) -> DatasetInfo:
    """The built-in dataset ``name``, or the one ``extra`` (a config's image folders) names."""
    known = {**DATASETS, **(extra or {})}
    try:
        return known[name]
    except KeyError:
        raise KeyError(
            f"unknown dataset {name!r}; known: {', '.join(known)} (an image folder of your own is "
            "declared under the config key imagefolders)"
        ) from None
