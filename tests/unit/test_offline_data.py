"""Datasets without the network: local folders first, clear errors, nothing left behind.

Nothing here touches the network: every torchvision download is monkeypatched.
"""

from __future__ import annotations

import os
from urllib.error import URLError

import numpy as np
import pytest
import torchvision
from helpers.idx_files import write_idx_folder

from lethe.data.datasets import IDX_FILES, DatasetUnavailable, load_raw, prepare_dataset


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if any torchvision dataset tries to download."""

    def forbidden(self, *args, **kwargs):
        raise AssertionError(f"{type(self).__name__}.download called: no download was allowed")

    for cls in (torchvision.datasets.MNIST, torchvision.datasets.CIFAR10):  # FashionMNIST and CIFAR100 inherit
        monkeypatch.setattr(cls, "download", forbidden)


def tree(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_fashion_mnist_idx_folder_without_files_fails_without_download(tmp_path, no_download):
    idx = tmp_path / "empty-idx"
    idx.mkdir()
    root = tmp_path / "root"
    with pytest.raises(DatasetUnavailable) as info:
        prepare_dataset(
            "fashion_mnist", tmp_path / "out" / "f.npz", tmp_path / "out" / "f.json", root, idx, download=True
        )
    message = str(info.value)
    assert "data.fashion_mnist_idx" in message and str(idx) in message
    for stem in IDX_FILES.values():
        assert stem in message
    assert ".gz" in message
    assert "dataset-fashion-mnist" in message and "/usr/share/datasets/fashion-mnist" in message
    assert "data.root" in message and str(root / "fashion_mnist" / "FashionMNIST" / "raw") in message
    assert "data.download" in message
    assert tree(tmp_path) == ["empty-idx"]  # no root, no out, nothing under the IDX folder


def test_fashion_mnist_missing_idx_folder_is_not_created(tmp_path, no_download):
    idx = tmp_path / "no" / "such" / "folder"
    with pytest.raises(DatasetUnavailable, match="data.fashion_mnist_idx") as info:
        load_raw("fashion_mnist", tmp_path / "root", idx, download=True)
    assert f"{idx} (does not exist)" in str(info.value)
    assert tree(tmp_path) == []


def test_fashion_mnist_partial_idx_folder_names_the_missing_files(tmp_path, no_download):
    idx = tmp_path / "idx"
    write_idx_folder(idx, 3, 2)
    (idx / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetUnavailable) as info:
        load_raw("fashion_mnist", tmp_path / "root", idx, download=True)
    assert "missing t10k-labels-idx1-ubyte" in str(info.value)
    assert not (tmp_path / "root").exists()


def test_fashion_mnist_uses_torchvisions_cache_before_any_download(tmp_path, no_download):
    """IDX files already under data.root (an earlier torchvision download) serve offline."""
    root = tmp_path / "root"
    arrays = write_idx_folder(root / "fashion_mnist" / "FashionMNIST" / "raw", 4, 3, gz_keys=("x_test",))
    raw = load_raw("fashion_mnist", root, tmp_path / "no-idx", download=True)
    np.testing.assert_array_equal(raw.x_train[:, 0], arrays["x_train"])
    assert raw.classes[0] == "T-shirt/top"
    assert not (tmp_path / "no-idx").exists()


@pytest.mark.parametrize("idx", [None, ""])
def test_fashion_mnist_without_idx_folder_or_download_names_data_root(tmp_path, no_download, idx):
    root = tmp_path / "root"
    with pytest.raises(DatasetUnavailable) as info:
        load_raw("fashion_mnist", root, idx, download=False)
    message = str(info.value)
    assert "data.root" in message and str(root / "fashion_mnist" / "FashionMNIST" / "raw") in message
    assert "data.download: true" in message and "dataset-fashion-mnist" in message
    assert tree(tmp_path) == []


def test_failed_download_leaves_nothing_behind(tmp_path, monkeypatch):
    """download: true and no IDX folder configured: torchvision is asked, and its half download removed."""
    calls = []

    def flaky_download(self):
        calls.append(self.raw_folder)
        raw = self.raw_folder

        os.makedirs(raw, exist_ok=True)
        with open(os.path.join(raw, "train-images-idx3-ubyte.gz"), "wb") as handle:
            handle.write(b"half a file")
        raise URLError("no network")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", flaky_download)
    root = tmp_path / "root"
    with pytest.raises(DatasetUnavailable) as info:
        load_raw("fashion_mnist", root, "", download=True)
    assert len(calls) == 1
    message = str(info.value)
    assert "no network" in message and "data.root" in message and "dataset-fashion-mnist" in message
    assert tree(tmp_path) == []


def test_failed_download_keeps_what_was_there(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "mnist").mkdir(parents=True)
    (root / "mnist" / "notes.txt").write_text("mine")

    def flaky_download(self):
        (root / "mnist" / "MNIST" / "raw").mkdir(parents=True)
        raise URLError("no network")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", flaky_download)
    with pytest.raises(DatasetUnavailable, match="no network"):
        load_raw("mnist", root, None, download=True)
    assert tree(tmp_path) == ["root", "root/mnist", "root/mnist/notes.txt"]


@pytest.mark.parametrize(
    ("name", "where", "what"),
    [
        ("mnist", "mnist/MNIST/raw", "train-images-idx3-ubyte"),
        ("cifar10", "cifar10", "cifar-10-batches-py"),
        ("cifar100", "cifar100", "cifar-100-python"),
    ],
)
def test_torchvision_dataset_offline_names_data_root_and_download(tmp_path, no_download, name, where, what):
    root = tmp_path / "root"
    with pytest.raises(DatasetUnavailable) as info:
        load_raw(name, root, "/usr/share/datasets/fashion-mnist", download=False)
    message = str(info.value)
    assert f"dataset {name!r}" in message
    assert "data.root" in message and str(root / where) in message and what in message
    assert "data.download: true" in message and "download=off" in message
    assert "dataset-fashion-mnist" not in message
    assert tree(tmp_path) == []
