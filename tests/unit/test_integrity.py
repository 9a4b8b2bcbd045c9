"""Damaged result files fail with one error that names the file and how to rebuild it.

Datasets are checked against their manifest's sha256, checkpoints against the sha256 their
sidecar records; every file written through :func:`lethe.io.atomic_path` gets the same mode.
"""

from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest
import torch
from helpers.digits_sizes import N_TRAIN

from lethe.data.datasets import load_arrays, read_manifest
from lethe.data.tensors import load_dataset
from lethe.io import CorruptFileError, read_json, sha256_file, write_json
from lethe.models.checkpoint import checkpoint_rebuild_hint, load_checkpoint, save_checkpoint, sidecar_path
from lethe.models.ensemble import Ensemble
from lethe.models.registry import build_model

META = {"arch": "mlp", "shape": [1, 8, 8], "num_classes": 10, "arch_params": {"hidden": 16}}


def small_mlp(seed: int = 0):
    return build_model("mlp", (1, 8, 8), 10, seed=seed, hidden=16)


def truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def zero_bytes(path, start: int, length: int) -> None:
    """Overwrite ``length`` bytes from ``start`` with zeros, in place (size unchanged)."""
    with open(path, "r+b") as handle:
        handle.seek(start)
        handle.write(b"\0" * length)


# --------------------------------------------------------------------------- datasets


@pytest.fixture
def dataset_copy(digits_files, tmp_path):
    """A private copy of the prepared digits dataset, as results/data/digits.{npz,json}."""
    npz, manifest, _ = digits_files
    folder = tmp_path / "results" / "data"
    folder.mkdir(parents=True)
    shutil.copy(npz, folder / "digits.npz")
    shutil.copy(manifest, folder / "digits.json")
    return folder / "digits.npz", folder / "digits.json"


def shift_labels(npz) -> None:
    """Rewrite ``npz`` in place as a valid archive whose training labels are shifted by one."""
    with np.load(npz) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["y_train"] = (arrays["y_train"] + 1) % 10
    with open(npz, "wb") as handle:
        np.savez(handle, **arrays)


def damage_npz(npz, how: str) -> None:
    if how == "truncated":
        truncate(npz)
    elif how == "zeroed":
        # Inside the first member's compressed data (x_train.npy, bytes 41-34473 of digits.npz):
        # the archive still opens, the member inflates, and fails its CRC.
        zero_bytes(npz, 16600, 64)
    elif how == "shifted_labels":
        shift_labels(npz)
    else:
        raise ValueError(how)


LOADERS = {
    "load_arrays": lambda npz, manifest: load_arrays(npz),
    "load_arrays_with_manifest": lambda npz, manifest: load_arrays(npz, manifest),
    "load_dataset": lambda npz, manifest: load_dataset(npz, manifest, torch.device("cpu")),
}


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("how", ["truncated", "zeroed", "shifted_labels"])
def test_damaged_npz_names_file_and_rebuild(dataset_copy, how, loader):
    npz, manifest = dataset_copy
    LOADERS[loader](npz, manifest)  # intact: loads
    damage_npz(npz, how)
    with pytest.raises(CorruptFileError) as info:
        LOADERS[loader](npz, manifest)
    message = str(info.value)
    assert message.startswith(f"{npz}: sha256 ")
    assert f"does not match the one recorded in {manifest}" in message
    assert "rule prepare_dataset" in message and f"snakemake --forcerun {npz}` (" in message
    assert info.value.path == npz


def test_zeroed_npz_fails_its_crc_even_without_a_recorded_hash(dataset_copy):
    """A manifest without sha256 (unchecked) still turns numpy's BadZipFile into the one error."""
    npz, manifest = dataset_copy
    data = read_json(manifest)
    del data["sha256"]
    write_json(manifest, data)
    damage_npz(npz, "zeroed")
    with pytest.raises(CorruptFileError, match="not a readable npz archive: .*CRC") as info:
        load_arrays(npz)
    assert str(npz) in str(info.value) and "prepare_dataset" in str(info.value)


def test_unparseable_manifest_names_file_and_rebuild(dataset_copy):
    npz, manifest = dataset_copy
    truncate(manifest)
    for load in (lambda: read_manifest(manifest), lambda: load_arrays(npz)):
        with pytest.raises(CorruptFileError) as info:
            load()
        assert str(info.value).startswith(f"{manifest}: not a readable JSON manifest")
        assert "prepare_dataset" in str(info.value)


def test_intact_dataset_hashes_once_per_load(dataset_copy, monkeypatch):
    """load_dataset reads the manifest once and the npz once (hashed from the same bytes)."""
    npz, manifest = dataset_copy
    opened = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    dataset = load_dataset(npz, manifest, torch.device("cpu"))
    assert len(dataset.train) == N_TRAIN
    assert opened.count(str(npz)) == 1 and opened.count(str(manifest)) == 1


# --------------------------------------------------------------------------- checkpoints


def model_path(root, stem: str, forget_set: str | None = None):
    folder = root / "results" / "models" / "digits" / "mlp" / "seed0"
    return (folder / forget_set if forget_set else folder) / f"{stem}.safetensors"


def test_sidecar_records_the_checkpoints_sha256(tmp_path):
    path = model_path(tmp_path, "original")
    save_checkpoint(small_mlp(), path, META)
    sidecar = read_json(sidecar_path(path))
    assert sidecar == {**META, "sha256": sha256_file(path)}
    _, meta = load_checkpoint(path)
    assert meta == sidecar


@pytest.mark.parametrize(
    ("stem", "forget_set", "rule"),
    [("original", None, "train_original"), ("finetune", "class3", "unlearn"), ("retrain", "class3", "unlearn")],
)
@pytest.mark.parametrize("how", ["truncated", "zeroed"])
def test_damaged_checkpoint_names_file_and_rule(tmp_path, stem, forget_set, rule, how):
    path = model_path(tmp_path, stem, forget_set)
    save_checkpoint(small_mlp(), path, META)
    if how == "truncated":
        truncate(path)
    else:
        zero_bytes(path, path.stat().st_size - 256, 128)  # inside the tensor data: the header still parses
    with pytest.raises(CorruptFileError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path}: sha256 ")
    assert f"does not match the one recorded in {sidecar_path(path)}" in message
    assert f"rule {rule} writes it" in message and f"snakemake --forcerun {path}` (" in message
    assert f"delete {path} and {sidecar_path(path)}" in message


def test_sidecar_without_hash_loads_unchecked(tmp_path):
    """Sidecars without a sha256 load, unchecked."""
    path = model_path(tmp_path, "original")
    model = small_mlp()
    save_checkpoint(model, path, META)
    write_json(sidecar_path(path), META)
    loaded, meta = load_checkpoint(path)
    assert meta == META
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True)
    )
    truncate(path)  # unchecked, but still one clear error when unreadable
    with pytest.raises(CorruptFileError, match="truncated or not a safetensors file: ") as info:
        load_checkpoint(path)
    assert str(info.value).startswith(f"{path}: ") and "rule train_original" in str(info.value)


def test_unparseable_sidecar_names_file_and_rule(tmp_path):
    path = model_path(tmp_path, "finetune", "class3")
    save_checkpoint(small_mlp(), path, META)
    truncate(sidecar_path(path))
    with pytest.raises(CorruptFileError) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(f"{sidecar_path(path)}: not a readable JSON sidecar")
    assert "rule unlearn" in str(info.value) and f"--forcerun {path}`" in str(info.value)


def test_damaged_sisa_stages_name_the_stages_file(tmp_path):
    path = model_path(tmp_path, "sisa_original")
    stages = path.with_name("sisa_original.stages.safetensors")
    ensemble = Ensemble([small_mlp(0), small_mlp(1)], "mean", {"shards": 2})
    ensemble.stages = {"assignment": torch.arange(10)}
    save_checkpoint(ensemble, path, META, stages_path=stages)
    assert read_json(sidecar_path(path))["stages_sha256"] == sha256_file(stages)
    loaded, _ = load_checkpoint(path)
    assert torch.equal(loaded.stages["assignment"], torch.arange(10))
    truncate(stages)
    with pytest.raises(CorruptFileError) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(f"{stages}: sha256 ")
    assert "rule train_sisa" in str(info.value) and f"--forcerun {path}`" in str(info.value)


def test_rebuild_hints_name_the_rule():
    assert "rule train_original" in checkpoint_rebuild_hint("results/models/d/mlp/seed0/original.safetensors")
    assert "rule train_sisa" in checkpoint_rebuild_hint("results/models/d/mlp/seed0/sisa_original.safetensors")
    assert "rule train_sisa" in checkpoint_rebuild_hint("results/models/d/mlp/seed0/sisa_original.stages.safetensors")
    assert "rule unlearn" in checkpoint_rebuild_hint("results/models/d/mlp/seed0/class3/sisa.safetensors")


# --------------------------------------------------------------------------- file modes


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_checkpoints_and_json_get_the_same_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = tmp_path / "model.safetensors"
        save_checkpoint(small_mlp(), path, META)
        write_json(tmp_path / "other.json", {"a": 1})
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"model.safetensors": mode, "model.json": mode, "other.json": mode}
