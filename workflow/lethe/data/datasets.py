"""Dataset preparation (to one npz + manifest per dataset) and loading into tensors.

Every dataset is stored the same way: ``x_train``/``x_test`` as uint8 arrays of shape
(N, C, H, W) and ``y_train``/``y_test`` as int64 labels, plus a JSON manifest with the
source, class names, per-channel mean/std of the training images and the npz's sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lethe.data.catalog import dataset_info
from lethe.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0


class DatasetUnavailable(RuntimeError):
    """The dataset's files are not on disk and could not be downloaded."""


@dataclass
class RawDataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    source: str


# --------------------------------------------------------------------------- sources


def load_digits_raw() -> RawDataset:
    """scikit-learn's bundled 8x8 digits with a fixed stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        images[:, None],
        digits.target.astype(np.int64),
        test_size=DIGITS_TEST_FRACTION,
        stratify=digits.target,
        random_state=DIGITS_SPLIT_SEED,
    )
    return RawDataset(
        x_train, y_train, x_test, y_test,
        classes=[str(i) for i in range(10)],
        source=f"sklearn.datasets.load_digits (stratified split, test "
        f"{DIGITS_TEST_FRACTION}, seed {DIGITS_SPLIT_SEED})",
    )  # fmt: skip


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a NumPy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {np.prod(shape)} values, found {array.size}")
    return array.reshape(shape)


def find_idx_files(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in ``folder`` (plain or .gz), or None if any is missing."""
    found = {}
    for key, stem in IDX_FILES.items():
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def load_idx_raw(folder: Path, classes: list[str]) -> RawDataset:
    files = find_idx_files(folder)
    if files is None:
        raise DatasetUnavailable(f"no IDX files in {folder}")
    arrays = {key: read_idx(path) for key, path in files.items()}
    return RawDataset(
        arrays["x_train"][:, None].copy(),
        arrays["y_train"].astype(np.int64),
        arrays["x_test"][:, None].copy(),
        arrays["y_test"].astype(np.int64),
        classes=classes,
        source=f"IDX files in {folder}",
    )


def load_torchvision_raw(name: str, root: Path, download: bool) -> RawDataset:
    """MNIST, Fashion-MNIST, CIFAR-10/100 through torchvision, downloading into ``root``."""
    import torchvision

    cls = {
        "mnist": torchvision.datasets.MNIST,
        "fashion_mnist": torchvision.datasets.FashionMNIST,
        "cifar10": torchvision.datasets.CIFAR10,
        "cifar100": torchvision.datasets.CIFAR100,
    }[name]
    folder = root / name
    try:
        train = cls(str(folder), train=True, download=download)
        test = cls(str(folder), train=False, download=download)
    except Exception as error:  # torchvision raises RuntimeError, URLError, OSError...
        what = (
            "the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz) under "
            f"{folder}/{cls.__name__}/raw/"
            if name in ("mnist", "fashion_mnist")
            else f"the python archive {cls.base_folder}/ (from {cls.url}) under {folder}/"
        )
        raise DatasetUnavailable(
            f"dataset {name!r} is not available: looked in {folder} "
            f"(download={'on' if download else 'off'}) and got: {error}. "
            f"Connect to the internet, or put {what}, or set data.root in the config "
            "to a folder that has them."
        ) from error

    def arrays(split):
        x = np.asarray(split.data)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=np.uint8), np.asarray(split.targets, np.int64)

    x_train, y_train = arrays(train)
    x_test, y_test = arrays(test)
    return RawDataset(
        x_train, y_train, x_test, y_test,
        classes=list(train.classes),
        source=f"torchvision.datasets.{cls.__name__} in {folder}",
    )  # fmt: skip


def load_raw(name: str, root: str | Path, idx_folder: str | Path | None, download: bool):
    """Fetch dataset ``name`` from its source (see ``lethe.data.catalog``)."""
    info = dataset_info(name)
    root = Path(root)
    if name == "digits":
        return load_digits_raw()
    if name == "fashion_mnist" and idx_folder and find_idx_files(Path(idx_folder)):
        return load_idx_raw(Path(idx_folder), list(FASHION_MNIST_CLASSES))
    if info.source in ("idx", "torchvision"):
        if name == "fashion_mnist":
            log.info("no Fashion-MNIST IDX files in %s; trying torchvision", idx_folder)
        return load_torchvision_raw(name, root, download)
    raise KeyError(name)


# --------------------------------------------------------------------------- storage


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_dataset(
    name: str,
    npz_path: str | Path,
    manifest_path: str | Path,
    root: str | Path = "data",
    idx_folder: str | Path | None = None,
    download: bool = True,
) -> dict:
    """Write ``{name}.npz`` and its manifest; return the manifest."""
    info = dataset_info(name)
    raw = load_raw(name, root, idx_folder, download)
    if raw.x_train.shape[1:] != info.shape:
        raise ValueError(f"{name}: images have shape {raw.x_train.shape[1:]}, expected {info.shape}")
    with atomic_path(npz_path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle, x_train=raw.x_train, y_train=raw.y_train,
                x_test=raw.x_test, y_test=raw.y_test,
            )  # fmt: skip
    scaled = raw.x_train.astype(np.float64) / 255.0
    manifest = {
        "name": name,
        "source": raw.source,
        "classes": raw.classes,
        "num_classes": info.num_classes,
        "shape": list(info.shape),
        "n_train": int(len(raw.y_train)),
        "n_test": int(len(raw.y_test)),
        "train_class_counts": np.bincount(raw.y_train, minlength=info.num_classes).tolist(),
        "mean": scaled.mean(axis=(0, 2, 3)).tolist(),
        "std": scaled.std(axis=(0, 2, 3)).tolist(),
        "sha256": sha256_file(npz_path),
        "file": Path(npz_path).name,
    }
    write_json(manifest_path, manifest)
    log.info("%s: %d train / %d test images from %s", name, manifest["n_train"], manifest["n_test"], raw.source)
    return manifest


def read_manifest(path: str | Path) -> dict:
    return read_json(path)


def load_arrays(npz_path: str | Path) -> dict[str, np.ndarray]:
    """The four arrays of a prepared dataset (never unpickles)."""
    with np.load(npz_path, allow_pickle=False) as data:
        return {key: data[key] for key in ("x_train", "y_train", "x_test", "y_test")}
