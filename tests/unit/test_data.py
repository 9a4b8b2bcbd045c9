"""Dataset preparation, IDX reading, torchvision failures and in-memory batching."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.digits_sizes import N_SOURCE_TRAIN, N_TEST, N_TRAIN, N_VAL
from helpers.idx_files import write_idx, write_idx_folder

from lethe.data import datasets
from lethe.data.catalog import DATASETS, dataset_info
from lethe.data.datasets import (
    IDX_FILES,
    DatasetUnavailable,
    find_idx_files,
    load_arrays,
    load_idx_raw,
    load_raw,
    prepare_dataset,
    read_idx,
    sha256_file,
)
from lethe.data.tensors import index_batches
from lethe.io import read_json

FASHION_MNIST_IDX = Path("/usr/share/datasets/fashion-mnist")


# --------------------------------------------------------------------------- digits


def test_digits_prepare_writes_npz_and_manifest(digits_files):
    npz, manifest_path, manifest = digits_files
    assert npz.is_file() and manifest_path.is_file()
    assert read_json(manifest_path) == manifest
    digest = hashlib.sha256(npz.read_bytes()).hexdigest()
    assert manifest["sha256"] == digest == sha256_file(npz)
    assert manifest["file"] == "digits.npz"
    assert manifest["name"] == "digits"
    assert manifest["num_classes"] == 10
    assert manifest["classes"] == [str(i) for i in range(10)]
    assert manifest["shape"] == [1, 8, 8]
    assert (manifest["n_train"], manifest["n_val"], manifest["n_test"]) == (N_TRAIN, N_VAL, N_TEST)
    assert sum(manifest["train_class_counts"]) == N_TRAIN and sum(manifest["val_class_counts"]) == N_VAL
    assert manifest["validation"] == {"fraction": 0.1, "seed": 0}
    assert len(manifest["mean"]) == len(manifest["std"]) == 1
    assert 0 < manifest["mean"][0] < 1 and 0 < manifest["std"][0] < 1
    # Only the two outputs: no temporary files left beside them.
    assert sorted(p.name for p in npz.parent.iterdir() if p.is_file()) == ["digits.json", "digits.npz"]


def test_digits_arrays_are_uint8_and_stratified(digits_files):
    npz, _, manifest = digits_files
    arrays = load_arrays(npz)
    assert arrays["x_train"].shape == (N_TRAIN, 1, 8, 8)
    assert arrays["x_val"].shape == (N_VAL, 1, 8, 8)
    assert arrays["x_test"].shape == (N_TEST, 1, 8, 8)
    assert arrays["x_train"].dtype == arrays["x_val"].dtype == arrays["x_test"].dtype == np.uint8
    assert arrays["y_train"].dtype == arrays["y_val"].dtype == arrays["y_test"].dtype == np.int64
    assert arrays["x_train"].max() == 255 and arrays["x_train"].min() == 0
    train_counts = np.bincount(arrays["y_train"], minlength=10)
    val_counts = np.bincount(arrays["y_val"], minlength=10)
    test_counts = np.bincount(arrays["y_test"], minlength=10)
    assert train_counts.tolist() == manifest["train_class_counts"]
    assert val_counts.tolist() == manifest["val_class_counts"]
    # Stratified 75/25 split: every class's test share is 25% of its total, to one sample;
    # then 10% of every class's training images, rounded, is the validation split.
    source_train = train_counts + val_counts
    total = source_train + test_counts
    assert np.all(np.abs(test_counts - 0.25 * total) <= 1)
    assert val_counts.tolist() == [round(0.1 * n) for n in source_train]


def test_validation_split_is_held_out_of_training(digits_files):
    """The validation images are the source's training images that train lacks, and none is in test."""
    from lethe.data.datasets import load_digits_raw

    npz, _, _ = digits_files
    arrays = load_arrays(npz)
    raw = load_digits_raw()
    rows = {(x.tobytes(), int(y)) for x, y in zip(raw.x_train, raw.y_train, strict=True)}
    train = [(x.tobytes(), int(y)) for x, y in zip(arrays["x_train"], arrays["y_train"], strict=True)]
    val = [(x.tobytes(), int(y)) for x, y in zip(arrays["x_val"], arrays["y_val"], strict=True)]
    assert set(train) | set(val) <= rows and len(train) + len(val) == len(raw.y_train)
    # digits has a few duplicate images; as multisets train and validation are still disjoint
    assert sorted(train + val) == sorted((x.tobytes(), int(y)) for x, y in zip(raw.x_train, raw.y_train, strict=True))


def test_validation_fraction_zero_and_bad_values(tmp_path):
    manifest = prepare_dataset("digits", tmp_path / "d.npz", tmp_path / "d.json", root=tmp_path, validation=0.0)
    assert (manifest["n_train"], manifest["n_val"]) == (N_SOURCE_TRAIN, 0)
    assert load_arrays(tmp_path / "d.npz")["x_val"].shape == (0, 1, 8, 8)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="data.validation"):
            prepare_dataset("digits", tmp_path / "e.npz", tmp_path / "e.json", root=tmp_path, validation=bad)
    assert not (tmp_path / "e.npz").exists() and not (tmp_path / "e.json").exists()


def test_npz_without_validation_split_names_the_fix(digits_files, tmp_path):
    """An npz without the validation split fails with one error saying how to rebuild it."""
    from lethe.io import CorruptFileError, sha256_file, write_json

    npz, manifest_path, manifest = digits_files
    arrays = load_arrays(npz)
    old = tmp_path / "digits.npz"
    np.savez(old, **{k: v for k, v in arrays.items() if not k.endswith("_val")})
    write_json(tmp_path / "digits.json", {**manifest, "sha256": sha256_file(old)})
    with pytest.raises(CorruptFileError, match="x_val, y_val") as info:
        load_arrays(old)
    assert "prepare_dataset" in str(info.value)


def test_digits_prepare_is_reproducible(digits_files, tmp_path):
    _, _, manifest = digits_files
    again = prepare_dataset("digits", tmp_path / "d.npz", tmp_path / "d.json", root=tmp_path)
    assert again["sha256"] == manifest["sha256"]


def test_load_dataset_normalises(digits, digits_files):
    _, _, manifest = digits_files
    assert digits.name == "digits" and digits.num_classes == 10
    assert digits.train.x.shape == (N_TRAIN, 1, 8, 8) and digits.test.x.shape == (N_TEST, 1, 8, 8)
    assert digits.val.x.shape == (N_VAL, 1, 8, 8)
    assert digits.train.x.dtype == torch.float32 and digits.train.y.dtype == torch.int64
    assert digits.train.x.device.type == "cpu"
    # Standardised with the training set's own statistics (measured: mean ~1e-7, std 1.00001).
    assert abs(digits.train.x.mean().item()) < 1e-4
    assert abs(digits.train.x.std().item() - 1.0) < 1e-3
    assert digits.manifest == manifest


def test_split_subset_and_mask(digits):
    sub = digits.train.subset([0, 5, 7])
    assert len(sub) == 3
    assert torch.equal(sub.x[1], digits.train.x[5]) and sub.y[2] == digits.train.y[7]
    masked = digits.train.mask(digits.train.y == 3)
    assert len(masked) == int((digits.train.y == 3).sum()) and bool((masked.y == 3).all())


def test_catalog_knows_the_shapes():
    assert dataset_info("digits").shape == (1, 8, 8)
    assert dataset_info("cifar100").num_classes == 100
    assert set(DATASETS) == {"digits", "fashion_mnist", "mnist", "cifar10", "cifar100"}
    with pytest.raises(KeyError, match="imagenet"):
        dataset_info("imagenet")


# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, suffix):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 1], dtype=np.uint8)
    write_idx(tmp_path / f"images{suffix}", images)
    write_idx(tmp_path / f"labels{suffix}", labels)
    got = read_idx(tmp_path / f"images{suffix}")
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(read_idx(tmp_path / f"labels{suffix}"), labels)


def test_read_idx_rejects_bad_files(tmp_path):
    bad_type = tmp_path / "float"
    bad_type.write_bytes(struct.pack(">HBB", 0, 0x0D, 1) + struct.pack(">I", 1) + b"\0\0\0\0")
    with pytest.raises(ValueError, match="unsigned-byte"):
        read_idx(bad_type)
    short = tmp_path / "short"
    short.write_bytes(struct.pack(">HBB", 0, 0x08, 1) + struct.pack(">I", 5) + b"\1\2")
    with pytest.raises(ValueError, match="expected 5"):
        read_idx(short)


def test_find_idx_files_plain_gz_and_missing(tmp_path):
    write_idx_folder(tmp_path, 3, 2, size=4, gz_keys=("x_train", "y_test"))
    found = find_idx_files(tmp_path)
    assert found is not None and set(found) == set(IDX_FILES)
    assert found["x_train"].name == "train-images-idx3-ubyte.gz"
    assert found["y_train"].name == "train-labels-idx1-ubyte"
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    assert find_idx_files(tmp_path) is None
    assert find_idx_files(tmp_path / "nowhere") is None


def test_load_idx_raw(tmp_path):
    arrays = write_idx_folder(tmp_path, 5, 3, size=6, gz_keys=("x_test",))
    raw = load_idx_raw(tmp_path, ["c"] * 10)
    assert raw.x_train.shape == (5, 1, 6, 6) and raw.x_test.shape == (3, 1, 6, 6)
    assert raw.y_train.dtype == raw.y_test.dtype == np.int64
    np.testing.assert_array_equal(raw.x_train[:, 0], arrays["x_train"])
    np.testing.assert_array_equal(raw.y_test, arrays["y_test"])
    assert str(tmp_path) in raw.source
    with pytest.raises(DatasetUnavailable, match="no IDX files"):
        load_idx_raw(tmp_path / "empty", [])


def test_prepare_fashion_mnist_from_tiny_idx_folder(tmp_path):
    """The IDX path of prepare_dataset, end to end, on a fake 28x28 dataset (no download)."""
    folder = tmp_path / "idx"
    arrays = write_idx_folder(folder, 6, 4, gz_keys=("x_train", "y_train"))
    manifest = prepare_dataset(
        "fashion_mnist",
        tmp_path / "f.npz",
        tmp_path / "f.json",
        root=tmp_path / "root",
        idx_folder=folder,
        download=False,
    )
    assert (manifest["n_train"], manifest["n_test"]) == (6, 4)
    assert manifest["shape"] == [1, 28, 28]
    assert manifest["classes"][0] == "T-shirt/top" and len(manifest["classes"]) == 10
    stored = load_arrays(tmp_path / "f.npz")
    np.testing.assert_array_equal(stored["x_train"][:, 0], arrays["x_train"])
    assert stored["x_train"].dtype == np.uint8
    assert not (tmp_path / "root").exists()  # torchvision was never asked


@pytest.mark.skipif(not FASHION_MNIST_IDX.is_dir(), reason=f"{FASHION_MNIST_IDX} missing (Debian fashion-mnist)")
def test_real_fashion_mnist_idx_files(tmp_path):
    raw = load_raw("fashion_mnist", tmp_path / "root", FASHION_MNIST_IDX, download=False)
    assert raw.x_train.shape == (60000, 1, 28, 28)
    assert raw.x_test.shape == (10000, 1, 28, 28)
    assert raw.y_train.shape == (60000,) and raw.y_test.shape == (10000,)
    assert raw.x_train.dtype == np.uint8
    assert np.bincount(raw.y_train).tolist() == [6000] * 10
    assert np.bincount(raw.y_test).tolist() == [1000] * 10
    assert "IDX" in raw.source


# --------------------------------------------------------------------------- failures


def test_torchvision_dataset_without_download_is_unavailable(tmp_path):
    with pytest.raises(DatasetUnavailable) as info:
        prepare_dataset(
            "mnist", tmp_path / "out" / "mnist.npz", tmp_path / "out" / "mnist.json", root=tmp_path, download=False
        )
    message = str(info.value)
    assert "'mnist'" in message
    assert str(tmp_path / "mnist") in message
    assert "download=off" in message
    assert not (tmp_path / "out" / "mnist.npz").exists()
    assert not (tmp_path / "out" / "mnist.json").exists()


def test_fashion_mnist_without_idx_files_or_download_is_unavailable(tmp_path):
    with pytest.raises(DatasetUnavailable, match="fashion_mnist"):
        load_raw("fashion_mnist", tmp_path, tmp_path / "no-idx", download=False)


def test_prepare_leaves_no_half_written_npz(tmp_path, monkeypatch):
    def broken_savez(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(datasets.np, "savez_compressed", broken_savez)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        prepare_dataset("digits", out / "digits.npz", out / "digits.json")
    assert list(out.iterdir()) == []  # neither the npz, nor its temporary file, nor a manifest


def test_prepare_rejects_wrong_image_shape(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder, 3, 2, size=8)  # 8x8 images where Fashion-MNIST has 28x28
    with pytest.raises(ValueError, match="expected"):
        prepare_dataset("fashion_mnist", tmp_path / "f.npz", tmp_path / "f.json", idx_folder=folder, download=False)
    assert not (tmp_path / "f.npz").exists()


# --------------------------------------------------------------------------- batching


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (12, 4), (1, 5), (1347, 32)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_index_batches_cover_every_index_once(n, batch_size, shuffle):
    generator = torch.Generator().manual_seed(0)
    batches = list(index_batches(n, batch_size, generator, shuffle=shuffle))
    assert len(batches) == -(-n // batch_size)
    assert all(len(b) == batch_size for b in batches[:-1]) and 0 < len(batches[-1]) <= batch_size
    flat = torch.cat(batches)
    assert sorted(flat.tolist()) == list(range(n))
    if not shuffle:
        assert flat.tolist() == list(range(n))


def test_index_batches_shuffle_is_seeded():
    def order(seed):
        return torch.cat(list(index_batches(50, 7, torch.Generator().manual_seed(seed)))).tolist()

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert list(index_batches(0, 4)) == []
