"""Image-folder datasets (config key ``imagefolders``): preparation, the split, the errors, the plan,
the source stamp that reruns rule prepare_dataset (the rule through Snakemake:
tests/workflow/test_imagefolder_rule.py).

The folders are written with Pillow (helpers.imagefolders): every image is one uniform colour that
encodes its class and index, so a label and a position can be checked from the pixels after resizing.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from helpers.imagefolders import CLASSES, N_TEST, N_TRAIN, SORTED, make_split_folder, value, write_image
from PIL import Image

from lethe.data.catalog import DATASETS, dataset_info
from lethe.data.datasets import load_prepared, prepare_dataset, sha256_file
from lethe.data.imagefolder import (
    DEFAULTS,
    EXTENSIONS,
    ImageFolderError,
    imagefolder_info,
    read_source_stamp,
    write_source_stamp,
)
from lethe.plan.config import load_plan
from lethe.plan.experiment import Plan


def make_fraction_folder(root: Path, n: int = 12) -> Path:
    """ROOT/CLASS with ``n`` images each (one in a nested folder)."""
    for cls in CLASSES:
        for i in range(n):
            sub = "nested/" if i == n - 1 else ""
            write_image(root / cls / f"{sub}img{i:02d}.png", value(cls, i))
    return root


def prepare(tmp_path: Path, spec: dict, name: str = "flowers", **kwargs) -> tuple[dict, dict]:
    out = tmp_path / "out"
    manifest = prepare_dataset(name, out / f"{name}.npz", out / f"{name}.json", imagefolder=spec, **kwargs)
    loaded, arrays = load_prepared(out / f"{name}.npz")
    assert loaded == manifest
    return manifest, arrays


# --------------------------------------------------------------------------- preparation


def test_split_layout_arrays_labels_and_manifest(tmp_path):
    root = make_split_folder(tmp_path / "flowers")
    manifest, arrays = prepare(tmp_path, {"root": str(root), "size": [8, 6], "channels": 3})
    assert manifest["classes"] == SORTED and manifest["num_classes"] == 3
    assert manifest["shape"] == [3, 8, 6]
    assert manifest["sha256"] == sha256_file(tmp_path / "out" / "flowers.npz")
    assert (manifest["n_train"] + manifest["n_val"], manifest["n_test"]) == (3 * N_TRAIN, 3 * N_TEST)
    for split in ("train", "val", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        assert x.dtype == np.uint8 and y.dtype == np.int64
        assert x.shape[1:] == (3, 8, 6)
        # Uniform images stay uniform through the resize; the level tells class and index.
        assert (x == x[:, :1, :1, :1]).all()
        assert ((x[:, 0, 0, 0].astype(int) - 10) // 40 == y).all()
    # The test split is the test/ folder, in class then path order.
    assert arrays["y_test"].tolist() == [c for c in range(3) for _ in range(N_TEST)]
    assert arrays["x_test"][:, 0, 0, 0].tolist() == [value(c, i) for c in SORTED for i in range(N_TEST)]
    # The validation split is carved as for every dataset: round(10 %) of each class's training images.
    assert manifest["val_class_counts"] == [1, 1, 1] and manifest["train_class_counts"] == [11, 11, 11]
    assert manifest["validation"] == {"fraction": 0.1, "seed": 0}
    record = manifest["imagefolder"]
    assert record["layout"] == "split" and record["images"] == 3 * (N_TRAIN + N_TEST)
    assert record["size"] == [8, 6] and record["channels"] == 3 and "test_fraction" not in record
    assert len(record["content_sha256"]) == 64
    assert "train/ and test/" in manifest["source"]


def test_fraction_layout_is_stratified_deterministic_and_recorded(tmp_path):
    root = make_fraction_folder(tmp_path / "flowers")
    spec = {"root": str(root), "size": [4, 4], "test_fraction": 0.25, "seed": 3}
    manifest, arrays = prepare(tmp_path, spec, validation=0.0)
    assert np.bincount(arrays["y_test"]).tolist() == [3, 3, 3]  # round(0.25 x 12) of every class
    assert np.bincount(arrays["y_train"]).tolist() == [9, 9, 9]
    train_levels = set(arrays["x_train"][:, 0, 0, 0].tolist())
    test_levels = set(arrays["x_test"][:, 0, 0, 0].tolist())
    assert not train_levels & test_levels and len(train_levels | test_levels) == 36  # a partition
    assert manifest["imagefolder"]["layout"] == "fraction"
    assert (manifest["imagefolder"]["test_fraction"], manifest["imagefolder"]["seed"]) == (0.25, 3)
    assert "stratified split, test 0.25, seed 3" in manifest["source"]
    again, _ = prepare(tmp_path / "again", spec, validation=0.0)
    assert again["sha256"] == manifest["sha256"]  # same folder, same spec: the same bytes
    _, other = prepare(tmp_path / "other", {**spec, "seed": 4}, validation=0.0)
    assert set(other["x_test"][:, 0, 0, 0].tolist()) != test_levels  # another seed, another draw
    # A tiny class keeps an image on either side whatever the fraction.
    small = make_fraction_folder(tmp_path / "small", n=2)
    _, arrays = prepare(tmp_path / "s", {"root": str(small), "test_fraction": 0.1}, validation=0.0)
    assert np.bincount(arrays["y_test"]).tolist() == [1, 1, 1] == np.bincount(arrays["y_train"]).tolist()


def test_resize_and_channel_conversion(tmp_path):
    root = tmp_path / "modes"
    (root / "a").mkdir(parents=True)
    Image.new("RGB", (5, 7), (200, 100, 50)).save(root / "a" / "rgb.png")  # not grey: L = .299R + .587G + .114B
    write_image(root / "a" / "alpha.png", 90, "RGBA", size=(3, 3))
    write_image(root / "b" / "grey.gif", 120, "L", size=(30, 2))
    write_image(root / "b" / "palette.bmp", 60, "P", size=(9, 9))
    grey, arrays = prepare(tmp_path / "g", {"root": str(root), "size": [6, 4], "channels": 1}, validation=0.0)
    assert grey["shape"] == [1, 6, 4]
    everything = np.concatenate([arrays["x_train"], arrays["x_test"]])
    assert everything.shape[1:] == (1, 6, 4)
    assert all((image == image.flat[0]).all() for image in everything)  # uniform through the resize
    assert sorted(int(image.flat[0]) for image in everything) == [60, 90, 120, 124]  # 124: the RGB one
    rgb, arrays = prepare(tmp_path / "c", {"root": str(root), "size": [2, 3], "channels": 3}, validation=0.0)
    everything = np.concatenate([arrays["x_train"], arrays["x_test"]])
    assert everything.shape[1:] == (3, 2, 3) and rgb["mean"] != grey["mean"]
    colours = {tuple(image[:, 0, 0].tolist()) for image in everything}
    assert colours == {(200, 100, 50), (90, 90, 90), (120, 120, 120), (60, 60, 60)}  # alpha dropped


def test_extensions_are_case_insensitive_and_hidden_files_skipped(tmp_path):
    assert {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"} == set(EXTENSIONS)
    root = make_split_folder(tmp_path / "flowers")
    write_image(root / "train" / "daisy" / ".cache" / "x.png", 0)  # hidden folder
    manifest, _ = prepare(tmp_path, {"root": str(root)})
    assert manifest["imagefolder"]["images"] == 3 * (N_TRAIN + N_TEST)  # .PNG counted, .hidden.png, notes.txt not
    assert manifest["shape"] == [DEFAULTS["channels"], *DEFAULTS["size"]]


# --------------------------------------------------------------------------- errors


def error_of(tmp_path: Path, spec: dict, name: str = "flowers") -> str:
    out = tmp_path / "out"
    with pytest.raises(ImageFolderError) as info:
        prepare_dataset(name, out / f"{name}.npz", out / f"{name}.json", imagefolder=spec)
    assert not out.exists() or list(out.iterdir()) == []  # nothing written, not even half
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_root(tmp_path):
    message = error_of(tmp_path, {"root": str(tmp_path / "nowhere")})
    assert "config key imagefolders.flowers.root" in message and str(tmp_path / "nowhere") in message
    assert "does not exist" in message and "one sub-folder of images per class" in message


def test_one_class(tmp_path):
    write_image(tmp_path / "f" / "only" / "a.png", 1)
    write_image(tmp_path / "f" / "loose.png", 1)
    message = error_of(tmp_path, {"root": str(tmp_path / "f")})
    assert "imagefolders.flowers.root" in message and str(tmp_path / "f") in message
    assert "1 class folder (['only'])" in message and "1 image(s) outside class folders" in message
    assert "at least 2 classes" in message


def test_empty_class(tmp_path):
    root = make_fraction_folder(tmp_path / "f", n=3)
    (root / "empty").mkdir()
    (root / "empty" / "readme.txt").write_text("no images here")
    message = error_of(tmp_path, {"root": str(root)})
    assert "imagefolders.flowers.root" in message and str(root / "empty") in message and "has no images" in message


def test_train_and_test_classes_differ(tmp_path):
    root = make_split_folder(tmp_path / "f", n_train=2, n_test=1)
    write_image(root / "train" / "lily" / "a.png", 1)
    message = error_of(tmp_path, {"root": str(root)})
    assert "imagefolders.flowers.root" in message and str(root / "train") in message and str(root / "test") in message
    assert "only in train/: ['lily']; only in test/: []" in message
    (root / "test" / "daisy").rename(root / "test" / "lily2")
    assert "only in train/: ['daisy', 'lily']; only in test/: ['lily2']" in error_of(tmp_path, {"root": str(root)})


def test_split_folder_beside_class_folders(tmp_path):
    root = make_split_folder(tmp_path / "f", n_train=2, n_test=1)
    write_image(root / "extra" / "a.png", 1)
    message = error_of(tmp_path, {"root": str(root)})
    assert "also has ['extra']" in message
    root = make_fraction_folder(tmp_path / "g", n=2)
    write_image(root / "train" / "a.png", 1)
    assert "lacks test/" in error_of(tmp_path, {"root": str(root)})


def test_unreadable_image(tmp_path):
    root = make_fraction_folder(tmp_path / "f", n=3)
    bad = root / "rose" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is no JPEG")
    message = error_of(tmp_path, {"root": str(root)})
    assert f"config key imagefolders.flowers: cannot read image {bad}" in message and "remove it" in message


def test_single_image_class_cannot_be_split(tmp_path):
    root = make_fraction_folder(tmp_path / "f", n=2)
    (root / "rose" / "img00.png").unlink()
    message = error_of(tmp_path, {"root": str(root)})
    assert str(root / "rose") in message and "at least 2 images per class" in message


def test_built_in_name_is_refused(tmp_path):
    root = make_fraction_folder(tmp_path / "f", n=2)
    message = error_of(tmp_path, {"root": str(root)}, name="digits")
    assert "config key imagefolders.digits" in message and "built-in dataset" in message
    with pytest.raises(ValueError, match="imagefolders.cifar10: cifar10 is the name of a built-in dataset"):
        Plan(plan_config(root, name="cifar10"))


# --------------------------------------------------------------------------- plan and config


def plan_config(root: Path, name: str = "flowers", **folder) -> dict:
    return {
        "datasets": [name],
        "imagefolders": {name: {"root": str(root), **folder}},
        "archs": ["mlp"],
        "seeds": [0],
        "data": {"root": "data", "fashion_mnist_idx": "", "download": False, "validation": 0.1},
        "train": {"epochs": 1, "batch_size": 32, "lr": 1e-3, "optimizer": "adam", "momentum": 0.9, "weight_decay": 0},
        "forget_sets": {"class1": {"kind": "classes", "classes": [1]}},
        "methods": ["retrain", "finetune"],
        "method_params": {},
        "evaluation": {"batch_size": 1024},
        "paper": {"title": "t"},
    }


def test_plan_sees_the_image_folder(tmp_path):
    root = make_split_folder(tmp_path / "flowers", n_train=2, n_test=1)
    plan = Plan(plan_config(root, size=[16, 20], channels=1))
    info = plan.dataset_info("flowers")
    assert (info.num_classes, info.shape, info.source) == (3, (1, 16, 20), "imagefolder")
    assert plan.dataset_info("digits") == DATASETS["digits"] and plan.datasets == ["flowers"]
    assert plan.imagefolder("flowers") == {**DEFAULTS, "root": str(root), "size": [16, 20], "channels": 1}
    assert plan.imagefolder("digits") is None
    assert {run.dataset for run in plan.runs()} == {"flowers"}
    pattern = plan.wildcard_constraints()["dataset"]
    assert re.fullmatch(f"(?:{pattern})", "flowers") and re.fullmatch(f"(?:{pattern})", "digits")
    assert not re.fullmatch(f"(?:{pattern})", "flowers2")
    assert "flowers" not in DATASETS  # the catalog itself is untouched
    with pytest.raises(KeyError, match="imagefolders"):
        dataset_info("flowers")
    assert dataset_info("flowers", plan.dataset_infos) == info


def test_plan_checks_classes_against_the_class_folders(tmp_path):
    root = make_split_folder(tmp_path / "flowers", n_train=2, n_test=1)
    config = plan_config(root)
    config["forget_sets"] = {"class3": {"kind": "classes", "classes": [3]}}
    with pytest.raises(ValueError, match=r"set class3 \(classes \[3\]\) does not fit dataset flowers \(3 classes"):
        Plan(config)
    config["forget_sets"] = {"two": {"kind": "random_classes", "k": 3, "draws": 1, "seed": 0}}
    with pytest.raises(ValueError, match=r"k=3 random classes\) does not fit dataset flowers \(3 classes"):
        Plan(config)


def test_plan_errors_and_warnings(tmp_path):
    root = make_split_folder(tmp_path / "flowers", n_train=2, n_test=1)
    with pytest.raises(ImageFolderError, match=r"config key imagefolders.flowers.root: .*nowhere does not exist"):
        Plan(plan_config(tmp_path / "nowhere"))
    config = plan_config(root)
    config["datasets"] = ["flowers", "roses"]
    with pytest.raises(ValueError, match=r"config key datasets: unknown \['roses'\]"):
        Plan(config)
    config = plan_config(root)
    config["datasets"] = ["digits"]
    config["imagefolders"]["unused"] = {"root": str(tmp_path / "nowhere")}  # declared, not listed: not scanned
    assert Plan(config).warnings == [
        "imagefolders.flowers is declared but flowers is not in datasets; it is not prepared",
        "imagefolders.unused is declared but unused is not in datasets; it is not prepared",
    ]


def test_config_schema_fills_the_defaults(tmp_path):
    root = make_fraction_folder(tmp_path / "flowers", n=2)
    raw = plan_config(root)
    for key in ("data", "train", "method_params", "evaluation", "paper"):
        del raw[key]
    plan = load_plan(copy.deepcopy(raw))
    assert plan.config["imagefolders"]["flowers"] == {**DEFAULTS, "root": str(root)}
    assert plan.dataset_info("flowers").shape == (3, 32, 32)
    raw["imagefolders"]["flowers"]["channels"] = 2
    with pytest.raises(ValueError, match=r"imagefolders.flowers.channels: 2 is not allowed; allowed: \[1, 3\]"):
        load_plan(copy.deepcopy(raw))
    raw["imagefolders"] = {"my-flowers": {"root": str(root)}}
    raw["datasets"] = ["my-flowers"]
    with pytest.raises(ValueError, match="does not match"):
        load_plan(raw)


def test_imagefolder_info_reads_no_image(tmp_path):
    root = make_fraction_folder(tmp_path / "f", n=2)
    (root / "rose" / "img00.png").write_bytes(b"broken, but only the preparation reads it")
    assert imagefolder_info("f", {"root": str(root), "size": [5, 7]}).shape == (3, 5, 7)


# --------------------------------------------------------------------------- source stamp (reruns)


def test_source_stamp_changes_exactly_with_the_images_and_the_spec(tmp_path):
    root = make_split_folder(tmp_path / "flowers", n_train=2, n_test=1)
    spec = {**DEFAULTS, "root": str(root)}
    work = tmp_path / "work"
    path, changed = write_source_stamp("flowers", spec, work)
    stamp = work / path
    assert path == "results/sources/flowers.json" and changed is None
    old = 10**18  # a time stamp the stamp gets before each check, to tell a rewrite even within a clock tick

    def again(s=spec):
        os.utime(stamp, ns=(old, old))
        changed = write_source_stamp("flowers", s, work)[1]
        return changed, stamp.stat().st_mtime_ns != old

    def stats():
        return json.loads(stamp.read_text())["stat_sha256"]

    assert again() == (False, False)  # unchanged: not rewritten
    before = stats()
    image = root / "train" / "rose" / "img00.png"
    os.utime(image, ns=(10**9, 10**9))  # touched (or copied without its times): no rerun
    assert again() == (False, False) and stats() != before  # its stat digest updated, its time kept
    assert again({**spec, "test_fraction": 0.5, "seed": 9}) == (False, False)  # no split here: ignored
    write_image(image, 200)  # edited
    assert again() == (True, True)
    write_image(root / "test" / "rose" / "new.png", 7)  # added
    assert again() == (True, True)
    (root / "test" / "rose" / "new.png").rename(root / "test" / "rose" / "renamed.png")
    assert again() == (True, True)
    assert again({**spec, "size": [9, 9]}) == (True, True)  # the spec changed
    recorded = read_source_stamp(stamp)
    assert recorded["size"] == [9, 9] and recorded["classes"] == SORTED and recorded["images"] == 10


def test_digits_written_as_png_folders_prepare_to_the_same_arrays(tmp_path, digits_files):
    """A round trip through real images: digits' train and test images saved as lossless PNG, one
    folder per class, prepare to exactly the arrays of the built-in digits (same split order within a
    class is not guaranteed by file names, so arrays are compared as sorted multisets per class)."""
    from lethe.data.datasets import load_digits_raw

    raw = load_digits_raw()
    root = tmp_path / "digits_png"
    for split, x, y in (("train", raw.x_train, raw.y_train), ("test", raw.x_test, raw.y_test)):
        for i, (image, label) in enumerate(zip(x, y, strict=True)):
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[0], mode="L").save(folder / f"{i:05d}.png")
    manifest, arrays = prepare(tmp_path, {"root": str(root), "size": [8, 8], "channels": 1}, name="digits_png")
    _, reference = load_prepared(digits_files[0])
    assert manifest["classes"] == [str(c) for c in range(10)] and manifest["shape"] == [1, 8, 8]
    for split in ("train", "test"):
        for c in range(10):
            ours = arrays[f"x_{split}"][arrays[f"y_{split}"] == c].reshape(-1, 64)
            theirs = reference[f"x_{split}"][reference[f"y_{split}"] == c].reshape(-1, 64)
            if split == "train":  # train and validation together: the carve may pick other images
                ours = np.concatenate([ours, arrays["x_val"][arrays["y_val"] == c].reshape(-1, 64)])
                theirs = np.concatenate([theirs, reference["x_val"][reference["y_val"] == c].reshape(-1, 64)])
            assert np.array_equal(np.unique(ours, axis=0), np.unique(theirs, axis=0)), (split, c)
            assert len(ours) == len(theirs)
    assert manifest["train_class_counts"] == np.bincount(reference["y_train"], minlength=10).tolist()
