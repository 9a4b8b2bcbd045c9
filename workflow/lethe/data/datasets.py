"""Dataset preparation (to one npz + manifest per dataset) and loading into tensors.

Every dataset is stored the same way: ``x_train``/``x_val``/``x_test`` as uint8 arrays of
shape (N, C, H, W) and ``y_train``/``y_val``/``y_test`` as int64 labels, plus a JSON
manifest with the source, class names, per-channel mean/std of the training images and
the npz's sha256. Besides the built-in datasets (``lethe.data.catalog``), a config's own
image folders (config key ``imagefolders``, :mod:`lethe.data.imagefolder`) are prepared the
same way.

The validation split is carved from the source's training images before anything is
trained (:func:`carve_validation`: a fixed fraction of every class, drawn with a fixed
seed), so no model of the pipeline ever trains on it. It is what a method or a
hyperparameter search may measure itself on; the test set is the evaluation's alone.
Loading checks that sha256 (the manifest is the npz's name with ``.json``): a truncated,
damaged or rewritten npz raises :class:`lethe.io.CorruptFileError` instead of being used.
"""

from __future__ import annotations

import gzip
import io
import logging
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lethe.data.catalog import dataset_info
from lethe.data.imagefolder import imagefolder_info, load_imagefolder
from lethe.io import CorruptFileError, atomic_path, read_checked, read_json_checked, sha256_file, write_json

log = logging.getLogger(__name__)

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0
VALIDATION_FRACTION = 0.1  # data.validation's default (config/schema.yaml)
VALIDATION_SEED = 0
SPLITS = ("train", "val", "test")
ARRAY_KEYS = tuple(f"{kind}_{split}" for split in SPLITS for kind in ("x", "y"))


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
    details: dict | None = None  # the manifest's entry for the source (image folders: lethe.data.imagefolder)


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
        x_train,
        y_train,
        x_test,
        y_test,
        classes=[str(i) for i in range(10)],
        source=f"sklearn.datasets.load_digits (stratified split, test "
        f"{DIGITS_TEST_FRACTION}, seed {DIGITS_SPLIT_SEED})",
    )


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


def missing_idx_files(folder: Path) -> list[str]:
    """The IDX file names (without .gz) that ``folder`` lacks: all four if it does not exist."""
    return [stem for stem in IDX_FILES.values() if not ((folder / stem).is_file() or (folder / f"{stem}.gz").is_file())]


def find_idx_files(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in ``folder`` (plain or .gz), or None if any is missing."""
    if missing_idx_files(folder):
        return None
    return {
        key: folder / stem if (folder / stem).is_file() else folder / f"{stem}.gz" for key, stem in IDX_FILES.items()
    }


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


TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10", "cifar100": "CIFAR100"}
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
IDX_LIST = ", ".join(IDX_FILES.values()) + " (each plain or .gz)"


def torchvision_raw_folder(name: str, root: Path) -> Path:
    """Where torchvision keeps MNIST-style IDX files for ``name`` under ``data.root``."""
    return root / name / TORCHVISION_CLASSES[name] / "raw"


def _idx_folder_state(folder: Path) -> str:
    if not folder.is_dir():
        return f"{folder} (does not exist)"
    return f"{folder} (missing {', '.join(missing_idx_files(folder))})"


def fashion_mnist_unavailable(reason: str, root: Path) -> DatasetUnavailable:
    """The error for Fashion-MNIST not found: every place searched and every way to provide it."""
    return DatasetUnavailable(
        f"dataset 'fashion_mnist' is not available: {reason}. Needed: the four IDX files {IDX_LIST}. "
        f"Either install Debian's package dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist; "
        f"it puts them in {DEBIAN_FASHION_MNIST}, the default of data.fashion_mnist_idx), or put them in the "
        f"folder data.fashion_mnist_idx names, or in torchvision's folder under data.root "
        f'({torchvision_raw_folder("fashion_mnist", root)}), or set data.fashion_mnist_idx: "" with '
        "data.download: true to let torchvision download them"
    )


def _snapshot(folder: Path) -> set[Path]:
    """``folder``, its existing ancestors and everything under it."""
    chain = {p for p in (folder, *folder.parents) if p.exists()}
    return chain | (set(folder.rglob("*")) if folder.is_dir() else set())


def _remove_new_paths(folder: Path, before: set[Path]) -> None:
    """Undo a failed download: remove what appeared since :func:`_snapshot` gave ``before``."""
    new = _snapshot(folder) - before
    for path in new:
        if path.parent in new or not path.exists():
            continue  # removed with its new parent
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def load_torchvision_raw(name: str, root: Path, download: bool) -> RawDataset:
    """MNIST, Fashion-MNIST, CIFAR-10/100 through torchvision, downloading into ``root``.

    A failed download leaves nothing behind: files and folders it created are removed.
    """
    import torchvision

    cls = getattr(torchvision.datasets, TORCHVISION_CLASSES[name])
    folder = root / name
    before = _snapshot(folder)
    try:
        train = cls(str(folder), train=True, download=download)
        test = cls(str(folder), train=False, download=download)
    except Exception as error:  # torchvision raises RuntimeError, URLError, OSError...
        if download:
            _remove_new_paths(folder, before)
        if name == "fashion_mnist":
            raise fashion_mnist_unavailable(f"the download into {folder} failed ({error})", root) from error
        what = (
            f"the four IDX files {IDX_LIST} in {torchvision_raw_folder(name, root)}"
            if name == "mnist"
            else f"the python archive's folder {cls.base_folder}/ (from {cls.url}) in {folder}"
        )
        raise DatasetUnavailable(
            f"dataset {name!r} is not available: looked in {folder} (download={'on' if download else 'off'}) "
            f"and got: {error}. Put {what} (data.root is {root}), or set data.root to a folder that has them, "
            "or connect to the internet with data.download: true"
        ) from error

    def arrays(split):
        x = np.asarray(split.data)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=np.uint8), np.asarray(split.targets, np.int64)

    x_train, y_train = arrays(train)
    x_test, y_test = arrays(test)
    return RawDataset(
        x_train,
        y_train,
        x_test,
        y_test,
        classes=list(train.classes),
        source=f"torchvision.datasets.{cls.__name__} in {folder}",
    )


def load_fashion_mnist_raw(root: Path, idx_folder: str | Path | None, download: bool) -> RawDataset:
    """Fashion-MNIST from local IDX files, never touching the network when a folder is configured.

    Searched in order: ``data.fashion_mnist_idx``, then torchvision's cache under
    ``data.root``; a download is tried only when no IDX folder is configured and
    ``data.download`` is on.
    """
    classes = list(FASHION_MNIST_CLASSES)
    cache = torchvision_raw_folder("fashion_mnist", root)
    configured = Path(idx_folder) if idx_folder else None
    for folder in (configured, cache):
        if folder is not None and find_idx_files(folder):
            return load_idx_raw(folder, classes)
    searched = f"torchvision's folder under data.root {_idx_folder_state(cache)}"
    if configured is not None:
        raise fashion_mnist_unavailable(
            f"data.fashion_mnist_idx is {_idx_folder_state(configured)}, and {searched}; "
            "no download is tried while data.fashion_mnist_idx names a folder",
            root,
        )
    if not download:
        raise fashion_mnist_unavailable(
            f"data.fashion_mnist_idx is not set, {searched}, and data.download is off", root
        )
    return load_torchvision_raw("fashion_mnist", root, download)


def load_raw(name: str, root: str | Path, idx_folder: str | Path | None, download: bool):
    """Fetch dataset ``name`` from its source (see ``lethe.data.catalog``)."""
    info = dataset_info(name)
    root = Path(root)
    if name == "digits":
        return load_digits_raw()
    if name == "fashion_mnist":
        return load_fashion_mnist_raw(root, idx_folder, download)
    if info.source in ("idx", "torchvision"):
        return load_torchvision_raw(name, root, download)
    raise KeyError(name)


def load_imagefolder_raw(name: str, spec: dict) -> RawDataset:
    """Image folder ``name`` (config key ``imagefolders.NAME``; :mod:`lethe.data.imagefolder`)."""
    x_train, y_train, x_test, y_test, classes, source, details = load_imagefolder(name, spec)
    return RawDataset(x_train, y_train, x_test, y_test, classes, source, details)


# --------------------------------------------------------------------------- validation split


def validation_indices(y: np.ndarray, fraction: float, seed: int = VALIDATION_SEED) -> np.ndarray:
    """Sorted indices of the validation split: ``round(fraction × n_c)`` of every class c.

    Stratified so every class is represented in proportion; drawn per class with
    ``numpy.random.default_rng([seed, c])``, so the draw of one class does not depend on
    the others. ``fraction`` 0 gives an empty split.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"data.validation must be in [0, 1), got {fraction}")
    chosen = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        k = int(round(fraction * len(members)))
        if k:
            chosen.append(np.random.default_rng([seed, int(c)]).choice(members, size=k, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def carve_validation(raw: RawDataset, fraction: float, seed: int = VALIDATION_SEED) -> dict[str, np.ndarray]:
    """The six arrays: the source's training images split into train and validation, and test."""
    val = validation_indices(raw.y_train, fraction, seed)
    keep = np.ones(len(raw.y_train), dtype=bool)
    keep[val] = False
    return {
        "x_train": raw.x_train[keep],
        "y_train": raw.y_train[keep],
        "x_val": raw.x_train[val],
        "y_val": raw.y_train[val],
        "x_test": raw.x_test,
        "y_test": raw.y_test,
    }


# --------------------------------------------------------------------------- storage


def prepare_dataset(
    name: str,
    npz_path: str | Path,
    manifest_path: str | Path,
    root: str | Path = "data",
    idx_folder: str | Path | None = None,
    download: bool = True,
    validation: float = VALIDATION_FRACTION,
    imagefolder: dict | None = None,
) -> dict:
    """Write ``{name}.npz`` and its manifest; return the manifest.

    ``validation``: the fraction of every class's training images held out as the
    validation split (:func:`carve_validation`). ``imagefolder``: the spec of image folder
    ``name`` (config key ``imagefolders.NAME``: root, size, channels, test_fraction, seed),
    which then is the source instead of a built-in dataset; its manifest records the spec,
    the layout and the sha256 of the images read (``imagefolder``).
    """
    info = dataset_info(name) if imagefolder is None else imagefolder_info(name, imagefolder)
    if not 0.0 <= validation < 1.0:  # before any download
        raise ValueError(f"data.validation must be in [0, 1), got {validation}")
    if imagefolder is None:
        raw = load_raw(name, root, idx_folder, download)
    else:
        raw = load_imagefolder_raw(name, imagefolder)
    if raw.x_train.shape[1:] != info.shape:
        raise ValueError(f"{name}: images have shape {raw.x_train.shape[1:]}, expected {info.shape}")
    arrays = carve_validation(raw, validation)
    with atomic_path(npz_path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    scaled = arrays["x_train"].astype(np.float64) / 255.0
    manifest = {
        "name": name,
        "source": raw.source,
        "classes": raw.classes,
        "num_classes": info.num_classes,
        "shape": list(info.shape),
        "n_train": int(len(arrays["y_train"])),
        "n_val": int(len(arrays["y_val"])),
        "n_test": int(len(arrays["y_test"])),
        "validation": {"fraction": float(validation), "seed": VALIDATION_SEED},
        "train_class_counts": np.bincount(arrays["y_train"], minlength=info.num_classes).tolist(),
        "val_class_counts": np.bincount(arrays["y_val"], minlength=info.num_classes).tolist(),
        "mean": scaled.mean(axis=(0, 2, 3)).tolist(),
        "std": scaled.std(axis=(0, 2, 3)).tolist(),
        "sha256": sha256_file(npz_path),
        "file": Path(npz_path).name,
    }
    if raw.details is not None:
        manifest["imagefolder"] = raw.details
    write_json(manifest_path, manifest)
    log.info(
        "%s: %d train / %d validation / %d test images from %s",
        name,
        manifest["n_train"],
        manifest["n_val"],
        manifest["n_test"],
        raw.source,
    )
    return manifest


def manifest_path_for(npz_path: str | Path) -> Path:
    """A prepared dataset's manifest: the npz's path with ``.json``."""
    return Path(npz_path).with_suffix(".json")


def dataset_rebuild_hint(npz_path: str | Path) -> str:
    npz_path = Path(npz_path)
    return (
        f"rule prepare_dataset writes it: delete {npz_path} and {manifest_path_for(npz_path)} and rerun, "
        f"or rerun with `snakemake --forcerun {npz_path}` (that job and what depends on it)"
    )


def read_manifest(path: str | Path) -> dict:
    """A dataset's manifest; :class:`CorruptFileError` if it cannot be read."""
    npz_path = Path(path).with_suffix(".npz")
    return read_json_checked(path, "manifest", dataset_rebuild_hint(npz_path))


def load_prepared(npz_path: str | Path, manifest_path: str | Path | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The manifest and the six arrays of a prepared dataset, once the npz matches the manifest's sha256.

    Each file is read once; the npz is never unpickled. A manifest without ``sha256``
    (none written by Lethe) leaves the npz unchecked, but an unreadable one still fails.
    """
    manifest_path = manifest_path_for(npz_path) if manifest_path is None else Path(manifest_path)
    hint = dataset_rebuild_hint(npz_path)
    manifest = read_json_checked(manifest_path, "manifest", hint)
    data = read_checked(npz_path, manifest.get("sha256"), manifest_path, hint)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [key for key in ARRAY_KEYS if key not in archive.files]
            if missing:
                raise CorruptFileError(
                    npz_path, f"has no {', '.join(missing)} (prepared without a validation split?)", hint
                )
            arrays = {key: archive[key] for key in ARRAY_KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptFileError(npz_path, f"not a readable npz archive: {error}", hint) from error
    return manifest, arrays


def load_arrays(npz_path: str | Path, manifest_path: str | Path | None = None) -> dict[str, np.ndarray]:
    """The six arrays of a prepared dataset, checked against its manifest (see :func:`load_prepared`)."""
    return load_prepared(npz_path, manifest_path)[1]
