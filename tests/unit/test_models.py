"""Architectures, checkpoints (safetensors, never pickle) and seeded, reproducible training."""

from __future__ import annotations

import hashlib
import json
import pickle

import pytest
import torch
from helpers.digits_sizes import N_TRAIN
from safetensors import safe_open

from lethe.data.tensors import Split
from lethe.models.catalog import ARCHITECTURE_NAMES
from lethe.models.checkpoint import load_checkpoint, save_checkpoint, sidecar_path
from lethe.models.registry import ARCHITECTURES, Classifier, build_model
from lethe.train import fit, make_optimizer


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --------------------------------------------------------------------------- registry


def test_catalog_matches_registry():
    assert ARCHITECTURE_NAMES == tuple(ARCHITECTURES)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
@pytest.mark.parametrize(("shape", "num_classes"), [((1, 8, 8), 10), ((1, 28, 28), 10), ((3, 32, 32), 100)])
def test_architecture_builds_and_outputs_logits(arch, shape, num_classes):
    model = build_model(arch, shape, num_classes, seed=0).eval()
    assert isinstance(model, Classifier)
    assert isinstance(model.head, torch.nn.Linear) and model.head.out_features == num_classes
    x = torch.randn(3, *shape)
    with torch.no_grad():
        logits = model(x)
        features = model.features(x)
    assert logits.shape == (3, num_classes)
    assert features.shape == (3, model.head.in_features)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)])
def test_allcnn_shape_and_training_step(shape):
    """All-CNN-C: 192 pooled features, one logit per class, and the training loop fits it.

    Three Adam steps (lr 1e-3) on one batch of 8 images, two classes told apart by their
    mean, lower the training loss from 2.39 to 0.62 (32×32) and from 2.18 to 0.51 (28×28);
    a no-op, or gradients that do not reach the body, would not.
    """
    model = build_model("allcnn", shape, 10, seed=0)
    assert model.head.in_features == 192
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 8  # the ninth is the head
    y = torch.arange(8) % 2
    x = torch.randn(8, *shape, generator=torch.Generator().manual_seed(0)) + 2.0 * (2 * y - 1).view(-1, 1, 1, 1)
    batch = Split(x, y)
    model.eval()
    with torch.no_grad():
        assert model(batch.x).shape == (8, 10)
        assert model.features(batch.x).shape == (8, 192)

    def loss() -> float:  # what fit minimises: BatchNorm on the batch's statistics
        model.train()
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(batch.x), batch.y).item()

    before = loss()
    body = [p.detach().clone() for p in model.body.parameters()]
    result = fit(model, batch, epochs=3, batch_size=8, lr=1e-3, optimizer="adam", seed=0)
    assert result.steps == 3
    after = loss()
    assert after < 0.5 * before, (before, after)
    assert all(not torch.equal(a, b) for a, b in zip(body, model.body.parameters(), strict=True))


def test_unknown_architecture():
    with pytest.raises(KeyError, match="vgg.*or timm-NAME for any timm model"):  # timm-NAME: test_timm_models.py
        build_model("vgg", (1, 8, 8), 10)


def test_seeded_build_is_identical_and_keeps_global_rng():
    assert state_equal(build_model("mlp", (1, 8, 8), 10, seed=3), build_model("mlp", (1, 8, 8), 10, seed=3))
    assert state_equal(build_model("cnn", (1, 8, 8), 10, seed=3), build_model("cnn", (1, 8, 8), 10, seed=3))
    assert not state_equal(build_model("mlp", (1, 8, 8), 10, seed=3), build_model("mlp", (1, 8, 8), 10, seed=4))
    # Seeding the build must not consume or reset the caller's global random stream.
    torch.manual_seed(11)
    expected = torch.rand(4)
    torch.manual_seed(11)
    build_model("mlp", (1, 8, 8), 10, seed=0)
    assert torch.equal(torch.rand(4), expected)


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(original_mlp, digits, tmp_path):
    path = tmp_path / "model.safetensors"
    meta = {"arch": "mlp", "shape": [1, 8, 8], "num_classes": 10, "seed": 0, "note": "round trip"}
    save_checkpoint(original_mlp, path, meta)
    assert path.is_file()
    assert sidecar_path(path) == tmp_path / "model.json"
    recorded = {**meta, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert json.loads((tmp_path / "model.json").read_text()) == recorded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.safetensors"]

    loaded, loaded_meta = load_checkpoint(path, "cpu")
    assert loaded_meta == recorded
    assert state_equal(loaded, original_mlp)
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(loaded(digits.test.x), original_mlp(digits.test.x))

    # A real safetensors file: its header names every tensor of the state dict.
    with safe_open(str(path), framework="pt") as handle:
        assert set(handle.keys()) == set(original_mlp.state_dict())
        assert handle.metadata() == {"arch": "mlp"}


def test_checkpoint_with_arch_params(tmp_path):
    model = build_model("mlp", (1, 8, 8), 10, seed=0, hidden=16)
    path = tmp_path / "small.safetensors"
    save_checkpoint(model, path, {"arch": "mlp", "shape": [1, 8, 8], "num_classes": 10, "arch_params": {"hidden": 16}})
    loaded, _ = load_checkpoint(path)
    assert loaded.head.in_features == 16
    assert state_equal(loaded, model)


def test_checkpoint_needs_metadata(original_mlp, tmp_path):
    with pytest.raises(ValueError, match="num_classes"):
        save_checkpoint(original_mlp, tmp_path / "m.safetensors", {"arch": "mlp", "shape": [1, 8, 8]})
    assert list(tmp_path.iterdir()) == []


def test_loading_never_unpickles(original_mlp, tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    save_checkpoint(original_mlp, path, {"arch": "mlp", "shape": [1, 8, 8], "num_classes": 10})
    assert not path.read_bytes().startswith((b"PK", b"\x80"))  # neither torch's zip format nor a pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("checkpoint loading must not unpickle")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(torch.serialization, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    loaded, _ = load_checkpoint(path)
    assert state_equal(loaded, original_mlp)


# --------------------------------------------------------------------------- training


def train_briefly(digits, build_seed: int, fit_seed: int):
    model = build_model("mlp", (1, 8, 8), 10, seed=build_seed)
    result = fit(model, digits.train, epochs=2, batch_size=32, lr=1e-3, optimizer="adam", seed=fit_seed)
    return model, result


def test_training_is_bit_reproducible_on_cpu(digits):
    a, result = train_briefly(digits, 0, 0)
    b, _ = train_briefly(digits, 0, 0)
    assert state_equal(a, b)
    assert result.steps == 2 * -(-N_TRAIN // 32) and result.samples == 2 * N_TRAIN and result.epochs == 2
    assert len(result.history) == 2 and not result.stopped_early
    assert not state_equal(a, train_briefly(digits, 0, 1)[0])  # another shuffling order
    assert not state_equal(a, train_briefly(digits, 1, 0)[0])  # another initialisation


def test_original_model_learned_digits(original_mlp, digits):
    from lethe.train import accuracy

    # Measured: train 0.998, test 0.978.
    assert accuracy(original_mlp, digits.train) > 0.97
    assert accuracy(original_mlp, digits.test) > 0.94


def test_fit_max_steps_and_stop(digits):
    model = build_model("mlp", (1, 8, 8), 10, seed=0)
    result = fit(model, digits.train, epochs=5, batch_size=32, lr=1e-3, max_steps=7)
    assert result.steps == 7 and result.epochs == 1
    calls = []

    def stop(m):
        calls.append(1)
        return len(calls) >= 3

    result = fit(model, digits.train, epochs=5, batch_size=500, lr=1e-3, stop=stop, stop_each="step")
    assert result.steps == 3 and result.stopped_early
    result = fit(model, digits.train, epochs=5, batch_size=500, lr=1e-3, stop=stop, stop_each="epoch")
    assert result.epochs == 1 and result.stopped_early  # calls already >= 3: stops after epoch 1


def test_fit_rejects_bad_input(digits):
    model = build_model("mlp", (1, 8, 8), 10, seed=0)
    with pytest.raises(ValueError, match="no training samples"):
        fit(model, digits.train.subset([]), epochs=1, batch_size=4, lr=1e-3)
    with pytest.raises(ValueError, match="stop_each"):
        fit(model, digits.train, epochs=1, batch_size=4, lr=1e-3, stop_each="batch")
    with pytest.raises(ValueError, match="rmsprop"):
        make_optimizer(model.parameters(), "rmsprop")
