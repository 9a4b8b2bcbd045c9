"""Populations of unlearning runs (lethe.populations.runs) and their metrics (lethe.metrics.quality):
the challenge's ε and F, its score, and U-LiRA, with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lethe.data.forget_sets import make_forget_set
from lethe.io import CorruptFileError
from lethe.methods.catalog import merge_params
from lethe.metrics.catalog import METRICS, POPULATION_METRICS
from lethe.metrics.quality import (
    BIN_WIDTH,
    DELTA,
    bin_scores,
    epsilons,
    forgetting_quality,
    population_metrics,
    ulira_accuracy,
    ulira_per_example,
)
from lethe.populations.runs import run_population, run_seed
from lethe.unlearning import run_unlearning

# --------------------------------------------------------------------------- ε and F


def _epsilon_by_hand(u: np.ndarray, r: np.ndarray, delta: float = DELTA) -> float:
    """The challenge's rule written out: every threshold at a value and beyond the ends, both directions."""
    values = np.unique(np.concatenate([u, r]))
    cuts = [values[0] - 1, *values]  # "unlearned" if above the cut (or at most the cut, direction 2)
    best = 0.0
    for cut in cuts:
        for above in (True, False):
            fnr = float(np.mean(~(u > cut if above else u <= cut)))
            fpr = float(np.mean(r > cut if above else r <= cut))
            if fpr == 0 and fnr == 0:
                return math.inf
            if fpr == 0 or fnr == 0:
                continue
            candidates = []
            if 1 - delta - fpr > 0:
                candidates.append(math.log(1 - delta - fpr) - math.log(fnr))
            if 1 - delta - fnr > 0:
                candidates.append(math.log(1 - delta - fnr) - math.log(fpr))
            best = max([best, *candidates])
    return best


def test_epsilon_matches_the_rule_written_out_with_ties():
    rng = np.random.default_rng(0)
    u = rng.integers(0, 6, size=(10, 40)).astype(float)  # few distinct values: many ties
    r = rng.integers(1, 8, size=(10, 40)).astype(float)
    fast = epsilons(u, r)
    slow = np.array([_epsilon_by_hand(u[:, j], r[:, j]) for j in range(u.shape[1])])
    assert np.allclose(fast, slow)
    cont_u, cont_r = rng.normal(size=(8, 30)), rng.normal(0.5, 1, size=(8, 30))
    assert np.allclose(epsilons(cont_u, cont_r), [_epsilon_by_hand(cont_u[:, j], cont_r[:, j]) for j in range(30)])


def test_separated_populations_have_infinite_epsilon_and_no_quality():
    u = np.full((6, 5), 3.0) + np.arange(6)[:, None] * 0.01
    r = np.zeros((6, 5)) - np.arange(6)[:, None] * 0.01
    assert np.isinf(epsilons(u, r)).all() and np.isinf(epsilons(r, u)).all()
    assert forgetting_quality(u, r, seed=0)["fq_F"] == pytest.approx(2 / 2**13)
    assert ulira_accuracy(u, r, seed=0)["ulira_acc"] == 1.0


def test_bins_halve_every_half_epsilon():
    weights = [1.0, 1.0, 0.5, 0.25, 0.25, 2 / 2**13, 2 / 2**13, 2 / 2**13]
    assert list(bin_scores([0.0, 0.49, BIN_WIDTH, 1.0, 1.49, 6.0, 100.0, np.inf])) == weights


def test_null_and_shifted_populations_are_told_apart_at_64_models():
    """Retrain against retrain (the same distribution) scores far better than a shifted population,
    and U-LiRA sits at chance on the null, near 1 on a shift of three standard deviations."""
    rng = np.random.default_rng(1)
    retrained, twin = rng.normal(size=(64, 300)), rng.normal(size=(64, 300))
    shifted = rng.normal(3.0, 1.0, size=(64, 300))
    null, shift = forgetting_quality(twin, retrained, seed=0), forgetting_quality(shifted, retrained, seed=0)
    assert 0.15 < null["fq_F"] < 0.6 and shift["fq_F"] < 0.05
    assert null["fq_F_lo"] <= null["fq_F"] <= null["fq_F_hi"] and shift["fq_F_hi"] < null["fq_F_lo"]
    chance = ulira_accuracy(twin, retrained, seed=0)
    assert chance["ulira_acc_lo"] < 0.5 < chance["ulira_acc_hi"]
    assert ulira_accuracy(shifted, retrained, seed=0)["ulira_acc"] > 0.9
    # A wider unlearned distribution with the same mean: only the per-example variances tell it.
    assert ulira_accuracy(rng.normal(0, 4, size=(64, 300)), retrained, seed=0)["ulira_acc"] > 0.65


def test_ulira_weighs_each_population_one_half():
    rng = np.random.default_rng(2)
    u, r = rng.normal(3, 1, size=(8, 50)), rng.normal(size=(32, 50))
    acc = ulira_per_example(u, r)
    assert acc.shape == (50,) and acc.mean() > 0.85 and (acc <= 1).all()
    with pytest.raises(ValueError, match="at least 4"):
        ulira_per_example(u[:2], r)
    with pytest.raises(ValueError, match="same examples"):
        ulira_per_example(u, r[:, :10])


def _population(phi, acc_r=0.9, acc_t=0.8, deterministic=False):
    n = len(phi)
    return {
        "phi": phi,
        "acc_retain": np.full(n, acc_r),
        "acc_test_retained": np.full(n, acc_t),
        "deterministic": deterministic,
    }


def test_score_scales_f_by_the_utility_ratios_and_a_deterministic_method_has_no_f():
    rng = np.random.default_rng(3)
    retrained = _population(rng.normal(size=(8, 40)))
    unlearned = _population(rng.normal(size=(8, 40)), 0.45, 0.4)
    m = population_metrics(unlearned, retrained, seed=0, shadow=unlearned)
    assert m["fq_ra_ratio"] == pytest.approx(0.5) and m["fq_ta_ratio"] == pytest.approx(0.5)
    assert m["fq_score"] == pytest.approx(0.25 * m["fq_F"]) and m["population_deterministic"] == 0.0
    assert set(POPULATION_METRICS) <= set(m) and all(METRICS[k].population for k in POPULATION_METRICS)
    same = np.tile(rng.normal(size=(1, 40)), (8, 1))
    d = population_metrics(_population(same, deterministic=True), retrained, seed=0)
    assert math.isnan(d["fq_F"]) and math.isnan(d["fq_score"]) and d["population_deterministic"] == 1.0
    assert 0 <= d["ulira_known_acc"] <= 1


# --------------------------------------------------------------------------- populations of real runs


@pytest.fixture(scope="module")
def finetune_params(train_recipe):
    return merge_params("finetune", {"epochs": 1}, train_recipe)


def test_a_population_is_n_runs_of_the_unlearn_code_path(original_mlp, digits, forget_class3, finetune_params, cpu):
    pop = run_population(
        "finetune", original_mlp, digits, forget_class3, finetune_params, arch="mlp", seed=0, n=4, device=cpu
    )
    assert pop["phi"].shape == (4, forget_class3["size"]) and not pop["deterministic"]
    assert len(set(pop["seeds"])) == 4 and pop["seeds"][2] == run_seed(0, 2) and len(pop["seconds"]) == 4
    assert len({row.tobytes() for row in pop["phi"]}) == 4  # each seed its own model
    # Run 2 is exactly what rule unlearn's code path returns for that seed.
    model, _ = run_unlearning(
        "finetune", original_mlp, digits, forget_class3, finetune_params, arch="mlp", seed=run_seed(0, 2), device=cpu
    )
    from lethe.metrics.predict import logit_confidence, logits

    d_f = digits.train.subset(np.asarray(forget_class3["indices"]))
    expected = logit_confidence(logits(model, d_f), d_f.y).astype(np.float32)
    assert np.array_equal(pop["phi"][2], expected)
    assert (pop["acc_test_retained"] > 0.8).all() and (0 <= pop["acc_forget"]).all()


def test_a_deterministic_method_runs_twice_and_is_said_to_be(original_mlp, digits, forget_class3, cpu):
    params = merge_params("zero_output", None)
    pop = run_population(
        "zero_output", original_mlp, digits, forget_class3, params, arch="mlp", seed=0, n=6, device=cpu
    )
    assert pop["deterministic"] and len(pop["seconds"]) == 2 and pop["unchanged"] == [False] * 6
    assert (pop["phi"] == pop["phi"][0]).all() and (pop["acc_forget"] == pop["acc_forget"][0]).all()


def test_a_population_that_changed_no_weight_says_so(original_mlp, digits, forget_class3, cpu):
    """SSD at an α no parameter reaches is a no-op: every model of its population is the original (the tables
    mark it, lethe.report.latex.population_marks); the one run made and its copies all count."""
    params = merge_params("ssd", {"alpha": 1e12})
    pop = run_population("ssd", original_mlp, digits, forget_class3, params, arch="mlp", seed=0, n=4, device=cpu)
    assert pop["deterministic"] and pop["unchanged"] == [True] * 4


def test_population_files_round_trip_and_are_checked(tmp_path, digits_files, forget_class3, original_mlp, train_recipe):
    from lethe.io import write_json
    from lethe.models.checkpoint import save_checkpoint
    from lethe.populations.artefacts import load_population
    from lethe.stages.forgetting_quality import forgetting_quality as quality_stage
    from lethe.stages.population import write_population

    npz, manifest_path, manifest = digits_files
    original = tmp_path / "original.safetensors"
    save_checkpoint(
        original_mlp,
        original,
        {
            "arch": "mlp",
            "shape": manifest["shape"],
            "num_classes": 10,
            "classes": list(range(10)),
            "dataset": "digits",
            "seed": 0,
        },
    )
    forget = tmp_path / "class3.json"
    write_json(forget, forget_class3)
    retrain = merge_params("retrain", {"epochs": 2}, train_recipe)
    paths = {}
    for method in ("retrain", "retrain_twin"):
        paths[method] = (tmp_path / f"{method}.npz", tmp_path / f"{method}.json")
        write_population(method, npz, manifest_path, forget, original, retrain, 0, 4, *paths[method])
    pop = load_population(*paths["retrain"])
    assert pop["phi"].shape == (4, forget_class3["size"]) and pop["record"]["models"] == 4
    out = quality_stage(paths["retrain_twin"], paths["retrain"], tmp_path / "twin.quality.json")
    assert out["method"] == "retrain_twin" and 0 <= out["metrics"]["fq_F"] <= 1
    assert out["metrics"]["fq_ra_ratio"] == pytest.approx(1, abs=0.05)
    data = bytearray(paths["retrain"][0].read_bytes())
    data[-20] ^= 0xFF
    paths["retrain"][0].write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="rule population"):
        load_population(*paths["retrain"])


def test_population_models_below_four_are_refused():
    from lethe.plan.config import load_plan

    with pytest.raises(ValueError, match="population.models"):
        load_plan({"population": {"models": 2}})
    assert load_plan({"population": {"models": 0}}).population_runs() == []
    plan = load_plan({"population": {"models": 4, "seeds": 2}})
    runs = plan.population_runs()
    assert {r.seed for r in runs} == set(plan.seeds[:2]) and {"retrain", "retrain_twin"} <= {r.method for r in runs}
    assert all(r.method != "retrain" for r in plan.quality_runs()) and len(plan.quality_runs()) < len(runs)


def test_population_metrics_write_the_intervals_the_catalogue_promises():
    rng = np.random.default_rng(4)
    pop = _population(rng.normal(size=(6, 20)))
    m = population_metrics(pop, _population(rng.normal(size=(6, 20))), seed=0, shadow=pop)
    for key in POPULATION_METRICS:
        assert METRICS[key].interval and m[f"{key}_lo"] <= m[key] <= m[f"{key}_hi"], key


# --------------------------------------------------------------------------- shadow originals (U-LiRA)


def test_shadow_originals_are_the_original_recipe_from_their_own_seeds(digits, cpu):
    """Batched shadow originals equal fit() one at a time with shadow_seed(seed, i), and a
    population drawn from them starts run i from shadow original i (zero_output, deterministic
    from one original, is not from several)."""
    from lethe.populations.reference import train_one
    from lethe.populations.shadow import shadow_model, shadow_seed, train_shadows

    recipe = {"epochs": 2, "batch_size": 32, "lr": 1e-3, "optimizer": "adam"}
    shape = tuple(digits.manifest["shape"])
    shadows = train_shadows("mlp", digits.train, shape, digits.num_classes, recipe, seed=5, k=3)
    assert shadows["batched"] and shadows["seeds"] == [shadow_seed(5, i) for i in range(3)]
    one = train_one("mlp", digits.train, shape, digits.num_classes, recipe, shadow_seed(5, 1))
    rebuilt = shadow_model("mlp", shape, digits.num_classes, shadows["params"], 1, cpu)
    assert all(torch.allclose(rebuilt.state_dict()[k], v, atol=1e-5) for k, v in one.state_dict().items())
    forget = make_forget_set("class3", {"kind": "classes", "classes": [3]}, digits.train.y.numpy(), 10, "digits")
    params = merge_params("zero_output", None)
    pop = run_population(
        "zero_output",
        None,
        digits,
        forget,
        params,
        arch="mlp",
        seed=5,
        n=3,
        device=cpu,
        originals=lambda i: shadow_model("mlp", shape, 10, shadows["params"], i, cpu),
    )
    assert not pop["deterministic"] and len({row.tobytes() for row in pop["phi"]}) == 3


def test_u_lira_on_shadow_originals_is_reported_beside_the_known_original():
    rng = np.random.default_rng(5)
    retrained = _population(rng.normal(size=(8, 30)))
    known = _population(rng.normal(2, 0.1, size=(8, 30)))  # one original: a tight, shifted distribution
    shadow = _population(rng.normal(0, 1, size=(8, 30)))  # many originals: as wide as retraining
    m = population_metrics(known, retrained, seed=0, shadow=shadow)
    assert m["ulira_known_acc"] > 0.9 and m["ulira_acc"] < m["ulira_known_acc"]
    assert "ulira_acc" not in population_metrics(known, retrained, seed=0)


def test_every_interval_metric_of_the_evaluation_writes_its_bounds(original_mlp, digits, forget_class3):
    from lethe.metrics.evaluate import accuracy_metrics
    from lethe.metrics.predict import predictions

    out = accuracy_metrics(
        digits, forget_class3, predictions(original_mlp, digits.train), predictions(original_mlp, digits.test)
    )
    for key in ("acc_forget", "acc_retain", "acc_test_retained", "acc_test_forgotten"):
        assert METRICS[key].interval and out[f"{key}_lo"] <= out[key] <= out[f"{key}_hi"], key
    assert (
        out["acc_forget_hi"] - out["acc_forget_lo"] > out["acc_retain_hi"] - out["acc_retain_lo"]
    )  # 123 vs 1,088 samples


def test_a_diverged_population_is_told_apart_not_scored_perfect():
    """NaN outputs (NegGrad's diverged models) separate a population from retraining completely:
    F near 0 and U-LiRA 1, never the perfect F that NaN-blind thresholds would give."""
    rng = np.random.default_rng(6)
    retrained = _population(rng.normal(size=(8, 30)))
    diverged = _population(np.full((8, 30), np.nan))
    m = population_metrics(diverged, retrained, seed=0, shadow=diverged)
    assert m["fq_F"] < 0.01 and m["ulira_acc"] == 1.0 and m["population_nonfinite_models"] == 8
    half = _population(np.where(np.arange(8)[:, None] < 4, np.nan, rng.normal(size=(8, 30))))
    assert population_metrics(half, retrained, seed=0)["population_nonfinite_models"] == 4
