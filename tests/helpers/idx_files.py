"""IDX files (the MNIST format) written for the dataset tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from lethe.data.datasets import IDX_FILES


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as an IDX file, gzipped when ``path`` ends in .gz."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as handle:
        handle.write(data)


def write_idx_folder(folder: Path, n_train: int, n_test: int, size: int = 28, gz_keys=()) -> dict[str, np.ndarray]:
    """Four IDX files of random images and labels; keys in ``gz_keys`` are gzipped."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_FILES.items():
        write_idx(folder / (f"{stem}.gz" if key in gz_keys else stem), arrays[key])
    return arrays
