"""Image-folder datasets: the user's own images, one sub-folder per class (config key ``imagefolders``).

A dataset named NAME is declared under ``imagefolders.NAME`` (``root``, ``size``, ``channels``,
``test_fraction``, ``seed``) and listed in ``datasets`` like a built-in one. Two layouts:

* ``ROOT/train/CLASS/...`` and ``ROOT/test/CLASS/...``: the split is the folders'; both must
  hold the same class folders;
* ``ROOT/CLASS/...``: every class's images, split into train and test here, stratified:
  ``test_fraction`` of each class (rounded, at least one image on either side) drawn with
  ``numpy.random.default_rng([seed, class, 1])`` (``[seed, class]`` is the validation
  split's stream, :func:`lethe.data.datasets.validation_indices`).

Class names are the class folders' names, sorted (Python's string order); a label is its
class's index in that order. Images are the files with an extension of :data:`EXTENSIONS`
(any case) anywhere under a class folder; names starting with ``.`` (files or folders) are
skipped, other files ignored. Each image is decoded by Pillow (first frame; EXIF orientation
applied), converted to greyscale (``L``, ``channels: 1``) or RGB (``channels: 3``; alpha is
dropped) and resized to ``size`` (height, width) with Pillow's bilinear filter (antialiased
when shrinking; the aspect ratio is not kept). The result is prepared like every other
dataset (:func:`lethe.data.datasets.prepare_dataset`).

The workflow needs a dataset's shape and class count when it is parsed: :func:`imagefolder_info`
lists the class folders (and checks the layout) without opening an image. Whether the folder
changed is told by a *source stamp* (:func:`write_source_stamp`), rule prepare_dataset's
input: a JSON file holding the folder's spec and the sha256 of its images' bytes (with their
relative paths). Hashing every byte at every parse would be slow on big folders, so the stamp
also records a digest of the images' paths, sizes and modification times: while that digest
is unchanged, nothing is read; when it changed, the bytes are hashed again, and the stamp is
rewritten with a new time (the dataset is re-prepared) only when they differ. A touched or
copied folder therefore re-prepares nothing; an added, removed, renamed or edited image does.
(An edit that keeps an image's size and modification time is not seen.)

Torch-free and Pillow-free at import: the Snakefile imports this module.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from lethe.data.catalog import DATASETS, DatasetInfo

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# The schema's defaults (config/schema.yaml, imagefolders.*), for configs built without it.
DEFAULTS = {"size": [32, 32], "channels": 3, "test_fraction": 0.2, "seed": 0}
SPLIT_FOLDERS = ("train", "test")
SOURCE_STAMPS = "results/sources"  # rule prepare_dataset's source input: SOURCE_STAMPS/NAME.json
MODES = {1: "L", 3: "RGB"}

log = logging.getLogger(__name__)


class ImageFolderError(ValueError):
    """An image folder that cannot be prepared; the message names the config key, the path and the fix."""


@dataclass(frozen=True)
class FolderScan:
    """What a folder holds: its layout (``split``: train/ and test/; ``fraction``: one set of
    class folders), the class names, and per part (``train`` and ``test``, or ``all``) each
    class's image paths relative to the root, sorted."""

    root: Path
    layout: str
    classes: tuple[str, ...]
    images: dict[str, tuple[tuple[str, ...], ...]]

    def files(self) -> list[str]:
        """Every image's relative path, part by part, class by class."""
        return [path for per_class in self.images.values() for paths in per_class for path in paths]


def with_defaults(spec: dict) -> dict:
    """``spec`` with the schema's defaults for what it leaves out."""
    return {**DEFAULTS, **spec}


def _key(name: str) -> str:
    return f"config key imagefolders.{name}"


def _visible(entries) -> list[os.DirEntry]:
    return [entry for entry in entries if not entry.name.startswith(".")]


def _subfolders(folder: Path) -> list[str]:
    """The names of ``folder``'s visible sub-folders, sorted."""
    with os.scandir(folder) as entries:
        return sorted(entry.name for entry in _visible(entries) if entry.is_dir())


def is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(EXTENSIONS)


def _images(folder: Path, root: Path, limit: int | None = None) -> tuple[str, ...]:
    """The images anywhere under ``folder`` (hidden files and folders skipped), as sorted paths
    relative to ``root``; with ``limit``, the walk stops once it found that many."""
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(parent, f).relative_to(root).as_posix() for f in files if is_image(f)]
        if limit is not None and len(found) >= limit:
            break
    return tuple(sorted(found))


def scan(name: str, spec: dict, limit: int | None = None) -> FolderScan:
    """The layout, classes and images of image folder ``name``; :class:`ImageFolderError` for a
    missing root, fewer than 2 classes, train/ and test/ with different classes, or a class
    folder without images (or, to be split here, with one). ``limit``: list at most about that
    many images per class folder (enough for the checks: 2), not all."""
    spec = with_defaults(spec)
    key = _key(name)
    root = Path(spec["root"]).expanduser()
    layout_help = (
        "one sub-folder of images per class (ROOT/CLASS/IMAGE), or train/ and test/ sub-folders that each "
        "hold the same class folders (ROOT/train/CLASS/IMAGE, ROOT/test/CLASS/IMAGE)"
    )
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise ImageFolderError(
            f"{key}.root: {root} {what} (relative paths start at the working directory, {Path.cwd()}); "
            f"set it to a folder with {layout_help}"
        )
    top = _subfolders(root)
    if set(SPLIT_FOLDERS) & set(top):
        layout = "split"
        missing = [part for part in SPLIT_FOLDERS if part not in top]
        others = [folder for folder in top if folder not in SPLIT_FOLDERS]
        if missing or others:
            problem = f"lacks {', '.join(f'{m}/' for m in missing)}" if missing else f"also has {others}"
            raise ImageFolderError(
                f"{key}.root: {root} has {' and '.join(f'{p}/' for p in SPLIT_FOLDERS if p in top)} but {problem}; "
                f"with train/ and test/ nothing else may sit beside them (a class may not be named train or test); "
                f"give it {layout_help}"
            )
        per_part = {part: _subfolders(root / part) for part in SPLIT_FOLDERS}
        if per_part["train"] != per_part["test"]:
            only = {
                part: sorted(set(per_part[part]) - set(per_part[other]))
                for part, other in (("train", "test"), ("test", "train"))
            }
            raise ImageFolderError(
                f"{key}.root: the class folders of {root / 'train'} and {root / 'test'} differ "
                f"(only in train/: {only['train']}; only in test/: {only['test']}); both need the same class folders, "
                "the labels being their index in sorted order"
            )
        classes = per_part["train"]
        parts = {part: root / part for part in SPLIT_FOLDERS}
    else:
        layout, classes, parts = "fraction", top, {"all": root}
    where = root / "train" if layout == "split" else root
    if len(classes) < 2:
        loose = len(_images(where, where)) - sum(len(_images(where / c, where)) for c in classes)
        found = (
            f"{len(classes)} class folder{'' if len(classes) == 1 else 's'} ({classes})"
            if classes
            else "no class folder"
        )
        extra = f" and {loose} image(s) outside class folders" if loose else ""
        raise ImageFolderError(
            f"{key}.root: {where} has {found}{extra}; a dataset needs at least 2 classes: give it {layout_help}"
        )
    images = {}
    for part, folder in parts.items():
        images[part] = tuple(_images(folder / c, root, limit) for c in classes)
        empty = [c for c, paths in zip(classes, images[part], strict=True) if not paths]
        if empty:
            raise ImageFolderError(
                f"{key}.root: class folder{'s' if len(empty) > 1 else ''} "
                f"{', '.join(str(folder / c) for c in empty)} {'have' if len(empty) > 1 else 'has'} no images "
                f"(files ending in {', '.join(EXTENSIONS)}, any case, not hidden); put images in "
                f"{'them' if len(empty) > 1 else 'it'} or remove {'them' if len(empty) > 1 else 'it'}"
            )
    if layout == "fraction":
        small = [c for c, paths in zip(classes, images["all"], strict=True) if len(paths) < 2]
        if small:
            raise ImageFolderError(
                f"{key}: class folder(s) {', '.join(str(root / c) for c in small)} hold a single image; splitting "
                "into train and test (test_fraction) needs at least 2 images per class: add images, or give the "
                "folder train/ and test/ sub-folders"
            )
    return FolderScan(root, layout, tuple(classes), images)


def check_name(name: str) -> None:
    if name in DATASETS:
        raise ImageFolderError(
            f"{_key(name)}: {name} is the name of a built-in dataset ({', '.join(DATASETS)}); "
            "give the image folder another name (and use that name in datasets)"
        )


def imagefolder_info(name: str, spec: dict) -> DatasetInfo:
    """What the workflow needs at parse time: the class count (class folders) and the shape (config)."""
    check_name(name)
    spec = with_defaults(spec)
    classes = scan(name, spec, limit=2).classes  # checks, without listing every image
    height, width = (int(v) for v in spec["size"])
    return DatasetInfo(name, len(classes), (int(spec["channels"]), height, width), "imagefolder")


def imagefolder_infos(specs: dict, listed) -> tuple[dict[str, DatasetInfo], list[str]]:
    """The infos of the image folders in ``listed`` (the config's datasets), and a warning for
    each declared folder that is not listed (it is not scanned). Every name is checked."""
    for name in specs:
        check_name(name)
    infos = {name: imagefolder_info(name, specs[name]) for name in listed if name in specs}
    warnings = [
        f"imagefolders.{name} is declared but {name} is not in datasets; it is not prepared"
        for name in specs
        if name not in listed
    ]
    return infos, warnings


# --------------------------------------------------------------------------- fingerprints


def stat_digest(found: FolderScan) -> str:
    """sha256 over every image's relative path, size and modification time (nothing is read)."""
    digest = hashlib.sha256()
    for rel in found.files():
        stat = (found.root / rel).stat()
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def content_digest(found: FolderScan, blobs=None) -> str:
    """sha256 over every image's relative path and the sha256 of its bytes, in :meth:`FolderScan.files` order.

    ``blobs``: the bytes already read, by relative path (the prepare job has them); else each file is read.
    """
    digest = hashlib.sha256()
    for rel in found.files():
        data = blobs[rel] if blobs is not None else (found.root / rel).read_bytes()
        digest.update(f"{rel}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    return digest.hexdigest()


def source_record(name: str, spec: dict, found: FolderScan) -> dict:
    """What a prepared image folder depends on, apart from its bytes: the spec (the split's
    fraction and seed only where the folder is split here), the layout, classes and image count."""
    spec = with_defaults(spec)
    record = {
        "name": name,
        "root": str(spec["root"]),
        "size": [int(v) for v in spec["size"]],
        "channels": int(spec["channels"]),
        "layout": found.layout,
        "classes": list(found.classes),
        "images": len(found.files()),
    }
    if found.layout == "fraction":
        record.update(test_fraction=float(spec["test_fraction"]), seed=int(spec["seed"]))
    return record


def source_stamp_path(name: str, start: Path | None = None) -> Path:
    return (Path.cwd() if start is None else Path(start)) / SOURCE_STAMPS / f"{name}.json"


def write_source_stamp(name: str, spec: dict, start: Path | None = None) -> tuple[str, bool | None]:
    """Rule prepare_dataset's source input of image folder ``name``: (its path relative to
    ``start``, whether it changed: None when new).

    The stamp holds :func:`source_record` with ``content_sha256`` (:func:`content_digest`) and
    ``stat_sha256`` (:func:`stat_digest`). Nothing is read while the stat digest and the record
    are unchanged; otherwise the bytes are hashed, and the stamp gets a new modification time
    only when the record or the content changed (a touch or a copy updates its stat digest but
    keeps its time, so nothing reruns).
    """
    from lethe.io import write_atomic

    start = Path.cwd() if start is None else Path(start)
    path = source_stamp_path(name, start)
    relative = os.path.relpath(path, start)
    found = scan(name, spec)
    record = source_record(name, spec, found)
    stats = stat_digest(found)
    try:
        old = json.loads(path.read_text())
        old_record = dict(old["imagefolder"])
        old_content = old_record.pop("content_sha256")
    except (OSError, ValueError, KeyError, TypeError):
        old = None
    if old is not None and old.get("stat_sha256") == stats and old_record == record:
        return relative, False
    content = content_digest(found)
    text = json.dumps({"imagefolder": {**record, "content_sha256": content}, "stat_sha256": stats}, indent=1)
    same = old is not None and old_record == record and old_content == content
    times = path.stat() if same else None
    write_atomic(path, lambda tmp: tmp.write_text(text + "\n"))
    if same:
        os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
        return relative, False
    return relative, None if old is None else True


def read_source_stamp(path: str | Path) -> dict:
    """The spec recorded in a source stamp (what rule prepare_dataset's job prepares)."""
    return json.loads(Path(path).read_text())["imagefolder"]


# --------------------------------------------------------------------------- images


def _split(labels, fraction: float, seed: int):
    """Boolean mask of the test images: per class, ``round(fraction × n)`` kept within 1..n-1."""
    import numpy as np

    test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = min(max(int(round(fraction * len(members))), 1), len(members) - 1)
        test[np.random.default_rng([seed, int(c), 1]).choice(members, size=k, replace=False)] = True
    return test


def _decode(data: bytes, path: Path, mode: str, size: tuple[int, int], name: str):
    import numpy as np
    from PIL import Image, ImageOps

    height, width = size
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image).convert(mode)
            image = image.resize((width, height), Image.Resampling.BILINEAR)
    except Exception as error:  # UnidentifiedImageError, OSError (truncated), DecompressionBombError, ...
        raise ImageFolderError(
            f"{_key(name)}: cannot read image {path} ({type(error).__name__}: {error}); "
            "replace it with a readable image or remove it"
        ) from error
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def load_imagefolder(name: str, spec: dict):
    """The folder's images as uint8 arrays (N, C, H, W) and int64 labels.

    Returns ``(x_train, y_train, x_test, y_test, classes, source, details)``: ``source`` one
    line for the manifest and the paper, ``details`` the manifest's ``imagefolder`` entry
    (:func:`source_record` and the ``content_sha256`` of the bytes read).
    """
    import numpy as np

    spec = with_defaults(spec)
    check_name(name)
    found = scan(name, spec)
    if "classes" in spec and list(spec["classes"]) != list(found.classes):  # a source stamp's record
        raise ImageFolderError(
            f"{_key(name)}: the class folders of {found.root} changed since the workflow was parsed "
            f"(then {list(spec['classes'])}, now {list(found.classes)}); run the workflow again"
        )
    mode = MODES[int(spec["channels"])]
    size = tuple(int(v) for v in spec["size"])
    blobs = {}
    arrays = {}
    for part, per_class in found.images.items():
        images, labels = [], []
        for label, paths in enumerate(per_class):
            for rel in paths:
                path = found.root / rel
                try:
                    data = path.read_bytes()
                except OSError as error:
                    raise ImageFolderError(
                        f"{_key(name)}: cannot read image {path} ({error.strerror or error}); "
                        "make it readable or remove it"
                    ) from error
                blobs[rel] = data
                images.append(_decode(data, path, mode, size, name))
                labels.append(label)
        arrays[part] = (np.stack(images), np.asarray(labels, dtype=np.int64))
    root = spec["root"]
    if found.layout == "split":
        (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
        source = f"image folder {root} (its train/ and test/ folders)"
    else:
        x, y = arrays["all"]
        test = _split(y, float(spec["test_fraction"]), int(spec["seed"]))
        x_train, y_train, x_test, y_test = x[~test], y[~test], x[test], y[test]
        source = (
            f"image folder {root} (stratified split, test {float(spec['test_fraction']):g}, seed {int(spec['seed'])})"
        )
    details = {**source_record(name, spec, found), "content_sha256": content_digest(found, blobs)}
    if spec.get("content_sha256") not in (None, details["content_sha256"]):
        log.warning(
            "%s: the images under %s changed since the workflow was parsed; prepared from what is there now "
            "(the next run prepares it again)",
            name,
            found.root,
        )
    return x_train, y_train, x_test, y_test, list(found.classes), source, details
