"""Reference models (lethe.populations.reference) and the per-example attack they calibrate (lethe.metrics.lira)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lethe.data.tensors import Split
from lethe.metrics.intervals import bootstrap_interval
from lethe.metrics.lira import (
    auc,
    bootstrap_auc,
    gaussians,
    hanley_mcneil,
    lira_metrics,
    logit_confidence,
    scores,
    tpr_at_fpr,
)
from lethe.metrics.predict import logits
from lethe.models.registry import build_model
from lethe.populations.artefacts import load_reference
from lethe.populations.reference import halves, model_seed, pool, train_one, train_reference
from lethe.stages.train_reference import write_reference
from lethe.train import fit

# Slow (reference models trained: 8 s on 2 busy cores): make test-fast leaves it out.
pytestmark = pytest.mark.slow


SHORT = {"epochs": 3, "batch_size": 32, "lr": 1e-3, "optimizer": "adam"}


def test_halves_are_complementary_pairs_seeded_and_differ():
    mask = halves(101, 6, seed=3)
    assert mask.shape == (6, 101) and sorted(set(mask.sum(1))) == [50, 51]
    assert (mask.sum(0) == 3).all()  # every sample IN exactly K/2 models
    assert (mask[0] ^ mask[1]).all() and (mask[4] ^ mask[5]).all()
    assert (halves(101, 6, seed=3) == mask).all() and not (halves(101, 6, seed=4) == mask).all()
    assert len({row.tobytes() for row in mask}) == 6
    assert (halves(101, 4, seed=3) == mask[:4]).all()  # model k's half does not depend on K
    with pytest.raises(ValueError, match="even"):
        halves(10, 3, 0)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_batched_models_equal_models_trained_one_at_a_time(digits, arch):
    """The vmapped K-model loop is fit() on each half: same init, batch order and optimiser."""
    recipe = SHORT if arch == "mlp" else {**SHORT, "epochs": 1}
    shape = tuple(digits.manifest["shape"])
    ref = train_reference(arch, digits.train, digits.test, shape, digits.num_classes, recipe, seed=0, k=4)
    assert ref["batched"] and ref["phi"].shape == (4, len(digits.train) + len(digits.test))
    data = pool(digits.train, digits.test)
    for i in range(4):
        one = train_one(
            arch, data.subset(np.flatnonzero(ref["in_mask"][i])), shape, digits.num_classes, recipe, model_seed(0, i)
        )
        phi = logit_confidence(logits(one, data), data.y)
        gap = max((ref["params"][name][i] - t).abs().max().item() for name, t in one.state_dict().items())
        # Batched products may sum in another order. Measured: the MLP's weights are
        # identical (0), the CNN's within 1e-7 for one model and 4e-3 (φ: 4e-3) for another
        # after one epoch: a rounding difference that Adam's normalised steps carry on.
        assert gap < (1e-5 if arch == "mlp" else 2e-2)
        assert np.abs(phi - ref["phi"][i]).max() < (1e-3 if arch == "mlp" else 0.05)
    # Training changed the models: they are not their initialisations.
    init = build_model(arch, shape, digits.num_classes, seed=model_seed(0, 0))
    assert not torch.allclose(init.head.weight, ref["params"]["head.weight"][0])


def test_batch_norm_models_train_one_at_a_time(digits):
    shape = tuple(digits.manifest["shape"])
    small = Split(digits.train.x[:64], digits.train.y[:64])
    test = Split(digits.test.x[:64], digits.test.y[:64])
    recipe = {**SHORT, "epochs": 1}
    ref = train_reference("allcnn", small, test, shape, digits.num_classes, recipe, seed=0, k=2)
    assert not ref["batched"] and ref["phi"].shape == (2, 128) and np.isfinite(ref["phi"]).all()


def test_reference_files_round_trip_and_are_checked(digits_files, tmp_path):
    npz, manifest, _ = digits_files
    out = {name: tmp_path / name for name in ("scores.npz", "models.safetensors", "reference.json")}
    meta = write_reference(
        npz, manifest, "mlp", 1, SHORT, 4, out["scores.npz"], out["models.safetensors"], out["reference.json"]
    )
    assert meta["models"] == 4 and meta["batched"] and meta["population"].startswith("train + test")
    ref = load_reference(out["scores.npz"], out["reference.json"])
    assert ref["phi"].shape == ref["in_mask"].shape == (4, meta["n_train"] + meta["n_test"])
    again = tmp_path / "again.npz"
    write_reference(npz, manifest, "mlp", 1, SHORT, 4, again, tmp_path / "m2.safetensors", tmp_path / "r2.json")
    assert np.array_equal(np.load(again)["phi"], ref["phi"])  # deterministic
    out["scores.npz"].write_bytes(out["scores.npz"].read_bytes()[:-10])
    with pytest.raises(Exception, match="scores.npz"):
        load_reference(out["scores.npz"], out["reference.json"])


# --------------------------------------------------------------------------- LiRA


def test_logit_confidence_is_log_odds_of_the_true_label():
    z = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [50.0, -50.0, 0.0]])
    y = torch.tensor([0, 1, 1])
    p = torch.softmax(z.double(), 1)[torch.arange(3), y].numpy()
    phi = logit_confidence(z, y)
    assert np.allclose(phi[:2], np.log(p[:2] / (1 - p[:2])))
    assert phi[2] == pytest.approx(-100.0, abs=1e-6)  # no cancellation where p ≈ 0


def test_auc_tpr_and_intervals():
    rng = np.random.default_rng(0)
    assert auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert auc(np.ones(5), np.ones(7)) == 0.5  # ties count one half
    same = rng.normal(size=(2, 4000))
    assert abs(auc(same[0], same[1]) - 0.5) < 0.03
    assert abs(tpr_at_fpr(same[0], same[1], 0.05) - 0.05) < 0.02  # no information: TPR ≈ FPR
    assert np.isnan(tpr_at_fpr(same[0], same[1][:50], 0.01))  # 50 non-members cannot resolve 1 %
    assert tpr_at_fpr(same[0], same[1], 1.0) == 1.0  # the ROC curve ends at (1, 1)
    # FPR 1/2: one non-member may score above the threshold, which is then the other one (0).
    assert tpr_at_fpr(np.array([2.0, -0.5]), np.array([0.0, 1.0]), 0.5) == 0.5
    # The counting bootstrap of the AUC is the generic bootstrap, draw for draw (ties included).
    m, o = np.round(rng.normal(0.3, 1, 300), 1), np.round(rng.normal(size=80), 1)
    assert bootstrap_auc(m, o, 7, 200) == pytest.approx(bootstrap_interval(auc, [m, o], 7, 200), abs=1e-12)
    lo, hi = hanley_mcneil(0.5, 1000, 1000)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(2 * 1.96 * np.sqrt(1 / 12 * 2001 / 1e6), rel=0.05)


def test_gaussians_pool_variances_with_few_models():
    rng = np.random.default_rng(0)
    mask = halves(50, 8, 0)  # 4 IN and 4 OUT per sample: below MIN_PER_SIDE
    phi = rng.normal(size=(8, 50)) + 3 * mask
    g = gaussians(phi, mask)
    assert np.ptp(g["sd_in"]) == 0 and np.ptp(g["sd_out"]) == 0
    assert (g["mu_in"] - g["mu_out"]).mean() == pytest.approx(3, abs=0.5)
    big = halves(50, 64, 0)
    g = gaussians(rng.normal(size=(64, 50)), big)
    assert np.ptp(g["sd_in"]) > 0  # per-sample variances with 32 per side
    online = scores(np.full(50, 3.0), gaussians(phi, mask), "online")
    assert (online > scores(np.zeros(50), gaussians(phi, mask), "online")).all()
    with pytest.raises(ValueError, match="IN and 2 OUT"):
        gaussians(phi[:2], mask[:2])  # one pair: one IN and one OUT per sample


def _memorising_setup(digits, k=16):
    """200 training images with random labels (the model can only memorise them) and 200 test images."""
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(digits.train))[:400]
    x = digits.train.x[pick]
    y = torch.as_tensor(rng.integers(0, digits.num_classes, 400))
    train, test = Split(x[:200], y[:200]), Split(x[200:], y[200:])
    recipe = {"epochs": 60, "batch_size": 32, "lr": 3e-3, "optimizer": "adam"}
    shape = tuple(digits.manifest["shape"])
    ref = train_reference("mlp", train, test, shape, digits.num_classes, recipe, seed=0, k=k)
    return train, test, recipe, shape, ref


def test_lira_finds_memorised_members_and_nothing_on_a_blind_model(digits):
    train, test, recipe, shape, ref = _memorising_setup(digits)
    target = build_model("mlp", shape, digits.num_classes, seed=123)
    fit(target, train, seed=123, **recipe)
    forget = {"indices": list(range(20)), "classes": None}
    y_train, y_test = train.y.numpy(), test.y.numpy()
    out = lira_metrics(logits(target, train), logits(target, test), y_train, y_test, forget, ref, 0)
    for variant in ("online", "offline"):
        assert out[f"lira_{variant}_auc_audit"] > 0.9, out  # memorised: members stand out
        assert out[f"lira_{variant}_tpr1_audit"] > 0.3, out  # far above the 1 % of chance
        assert out[f"lira_{variant}_auc_audit_lo"] > 0.5
    assert np.isnan(out["lira_online_tpr01_audit"])  # 200 non-members cannot resolve 0.1 %
    # A model that ignores its input: no member looks different from a non-member.
    constant = torch.zeros(len(train), digits.num_classes), torch.zeros(len(test), digits.num_classes)
    flat = lira_metrics(*constant, y_train, y_test, forget, ref, 0)
    assert flat["lira_online_auc_audit"] == pytest.approx(0.5, abs=0.08)
    assert flat["lira_online_tpr1_audit"] <= 0.05
    assert flat["lira_online_auc_audit_lo"] < 0.5 < flat["lira_online_auc_audit_hi"]  # no power


def test_lira_on_digits_sees_the_original_forget_set_and_not_retrains(digits, original_mlp, forget_random):
    """Digits MLP, K = 16: the audit has power (measured AUC 0.56) and the bootstrap interval brackets D_f's AUC."""
    shape = tuple(digits.manifest["shape"])
    recipe = {"epochs": 30, "batch_size": 32, "lr": 1e-3, "optimizer": "adam"}
    ref = train_reference("mlp", digits.train, digits.test, shape, digits.num_classes, recipe, seed=0, k=16)
    y_train, y_test = digits.train.y.numpy(), digits.test.y.numpy()
    out = lira_metrics(
        logits(original_mlp, digits.train), logits(original_mlp, digits.test), y_train, y_test, forget_random, ref, 0
    )
    assert out["lira_online_auc_audit_lo"] > 0.5 and out["lira_models"] == 16
    for key in ("lira_online_auc_forget", "lira_offline_auc_forget"):
        assert out[f"{key}_lo"] <= out[key] <= out[f"{key}_hi"]
    with pytest.raises(ValueError, match="population"):
        lira_metrics(
            logits(original_mlp, digits.train)[:-1],
            logits(original_mlp, digits.test),
            y_train[:-1],
            y_test,
            forget_random,
            ref,
            0,
        )
