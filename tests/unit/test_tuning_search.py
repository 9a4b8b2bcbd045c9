"""The tuning search (lethe.tuning.search) and the catalogue's search spaces, on digits / MLP / class 3.

NegGrad is the method searched here: a trial takes a few hundredths of a second on digits.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from helpers.settings import TRAIN_RECIPE

from lethe.data.tensors import Split
from lethe.methods.catalog import METHODS, merge_params
from lethe.tuning.search import INFEASIBLE_PENALTY, Scorer, gap, loss_shift, score, search
from lethe.tuning.space import Dimension, check_space, choice, integer, log_float
from lethe.unlearning import run_unlearning

# Slow (searches on digits: 16 s on 2 busy cores): make test-fast leaves it out.
pytestmark = pytest.mark.slow


SPACE = {"lr": log_float(1e-4, 1e-1), "epochs": integer(1, 4)}


@pytest.fixture(scope="module")
def retrained(digits, forget_class3, cpu):
    params = merge_params("retrain", None, TRAIN_RECIPE)
    return run_unlearning("retrain", None, digits, forget_class3, params, arch="mlp", seed=0, device=cpu)


def run_search(tmp_path, digits, original_mlp, forget_class3, retrained, cpu, trials=4, **changes):
    model, record = retrained
    kwargs = dict(
        dataset=digits,
        original=original_mlp,
        forget=forget_class3,
        retrained=model,
        retrain_seconds=record["seconds"],
        space=SPACE,
        base_params=merge_params("neggrad", None),
        trials=trials,
        time_fraction=1.0,
        seed=0,
        storage=tmp_path / "study.db",
        arch="mlp",
        device=cpu,
    )
    kwargs.update(changes)
    return search("neggrad", **kwargs)


def test_every_search_space_names_the_methods_own_hyperparameters():
    for name, info in METHODS.items():
        check_space(name, info.search_space, info.defaults)
        assert all(isinstance(d, Dimension) for d in info.search_space.values())
    untuned = {name for name, info in METHODS.items() if not info.search_space}
    assert untuned == {"retrain", "retrain_twin", "zero_output", "sisa"}
    with pytest.raises(ValueError, match="not its hyperparameters"):
        check_space("neggrad", {"learning_rate": log_float(1e-3, 1e-1)}, METHODS["neggrad"].defaults)


def test_dimensions_check_their_ranges():
    for bad in (lambda: Dimension("float", 1.0, 0.5), lambda: log_float(0.0, 1.0), lambda: Dimension("grid", 0, 1)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match="choices"):
        choice()
    assert log_float(1e-4, 1e-1).describe() == "[0.0001, 0.1, log]" and integer(1, 4).describe() == "{1..4}"


def test_the_retrained_model_has_no_gap_and_the_original_a_large_one(digits, forget_class3, retrained, original_mlp):
    scorer = Scorer(digits, forget_class3, seed=0)
    reference = scorer.terms(retrained[0])
    assert gap(scorer.terms(retrained[0]), reference) == 0.0
    assert gap(scorer.terms(original_mlp), reference) > 20  # UA 1.0 against 0.0 alone is 25 pp
    broken = copy.deepcopy(original_mlp)
    with torch.no_grad():
        broken.head.weight.fill_(float("nan"))
    assert scorer.terms(broken) is None and gap(None, reference) == INFEASIBLE_PENALTY


def test_random_samples_add_the_forget_loss_shift(tmp_path, digits, original_mlp, forget_random, cpu):
    """On a random 10 % the four terms barely tell the original from the retrained model (a model
    generalises to D_f almost as it fits it); the shift term scores the original 100 and the
    retrained model 0, and a search on random samples ranks by the five-term mean."""
    model, record = run_unlearning(
        "retrain",
        None,
        digits,
        forget_random,
        merge_params("retrain", None, TRAIN_RECIPE),
        arch="mlp",
        seed=0,
        device=cpu,
    )
    scorer = Scorer(digits, forget_random, seed=0)
    reference, original = scorer.terms(model), scorer.terms(original_mlp)
    assert gap(original, reference) < 5  # measured 1-2 pp: the four terms alone cannot see it
    assert original["loss_f"] < reference["loss_f"]  # the original fits D_f; retrain never saw it
    assert loss_shift(original, reference, original) == 100.0 and loss_shift(reference, reference, original) == 0.0
    assert loss_shift(None, reference, original) == 100.0
    overshoot = {**reference, "loss_f": reference["loss_f"] + 10.0}
    assert loss_shift(overshoot, reference, original) == 100.0  # capped
    assert score(4.0, None) == 4.0 and score(4.0, 24.0) == pytest.approx((4 * 4.0 + 24.0) / 5)
    result = search(
        "neggrad",
        dataset=digits,
        original=original_mlp,
        forget=forget_random,
        retrained=model,
        retrain_seconds=record["seconds"],
        space=SPACE,
        base_params=merge_params("neggrad", None),
        trials=3,
        time_fraction=1e3,
        seed=0,
        storage=tmp_path / "study.db",
        arch="mlp",
        device=cpu,
    )
    assert result["original_terms"] == pytest.approx(original)
    for trial in result["trials"]:
        assert 0.0 <= trial["loss_shift"] <= 100.0
        assert trial["objective"] == pytest.approx(score(trial["gap"], trial["loss_shift"]))


def test_search_finds_a_setting_that_forgets(tmp_path, digits, original_mlp, forget_class3, retrained, cpu):
    result = run_search(tmp_path, digits, original_mlp, forget_class3, retrained, cpu, trials=8)
    assert len(result["trials"]) == 8 and set(result["best"]) == {"lr", "epochs"}
    default_gap = gap(
        Scorer(digits, forget_class3, 0).terms(
            run_unlearning(
                "neggrad",
                original_mlp,
                digits,
                forget_class3,
                merge_params("neggrad", None),
                arch="mlp",
                seed=0,
                device=cpu,
            )[0]
        ),
        result["retrain_terms"],
    )
    assert result["gap"] < default_gap  # the paper's lr 1e-4 forgets nothing on digits
    assert result["objective"] == min(t["objective"] for t in result["trials"])
    assert result["loss_shift"] is None and result["original_terms"] is None  # classes: the four terms
    assert result["space"] == {"lr": "[0.0001, 0.1, log]", "epochs": "{1..4}"}


def test_search_is_reproducible_and_resumes_where_it_stopped(
    tmp_path, digits, original_mlp, forget_class3, retrained, cpu
):
    straight = run_search(
        tmp_path / "a", digits, original_mlp, forget_class3, retrained, cpu, trials=5, storage=tmp_path / "a.db"
    )
    again = run_search(
        tmp_path / "b", digits, original_mlp, forget_class3, retrained, cpu, trials=5, storage=tmp_path / "b.db"
    )
    assert [t["params"] for t in again["trials"]] == [t["params"] for t in straight["trials"]]
    # Interrupted after 2 trials, resumed to 5: the same 5 trials.
    run_search(tmp_path / "c", digits, original_mlp, forget_class3, retrained, cpu, trials=2, storage=tmp_path / "c.db")
    resumed = run_search(
        tmp_path / "c", digits, original_mlp, forget_class3, retrained, cpu, trials=5, storage=tmp_path / "c.db"
    )
    assert [t["params"] for t in resumed["trials"]] == [t["params"] for t in straight["trials"]]
    assert [t["objective"] for t in resumed["trials"]] == [t["objective"] for t in straight["trials"]]


def test_trials_over_the_time_bound_are_infeasible(
    tmp_path, digits, original_mlp, forget_class3, retrained, cpu, monkeypatch
):
    monkeypatch.setattr("lethe.tuning.search.ABORT_FACTOR", 1e15)  # over the bound, under the cap: run to the end
    result = run_search(tmp_path, digits, original_mlp, forget_class3, retrained, cpu, trials=2, time_fraction=1e-9)
    assert not any(t["feasible"] for t in result["trials"])
    assert all(t["objective"] == t["gap"] + INFEASIBLE_PENALTY and not t["aborted"] for t in result["trials"])
    assert result["feasible"] is False


def test_search_never_reads_the_test_set(tmp_path, digits, original_mlp, forget_class3, retrained, cpu):
    scrambled = dataclasses.replace(
        digits, test=Split(torch.full_like(digits.test.x, float("nan")), (digits.test.y + 1) % 10)
    )
    a = run_search(
        tmp_path / "a", digits, original_mlp, forget_class3, retrained, cpu, trials=2, storage=tmp_path / "a.db"
    )
    b = run_search(
        tmp_path / "b", scrambled, original_mlp, forget_class3, retrained, cpu, trials=2, storage=tmp_path / "b.db"
    )
    assert [t["gap"] for t in a["trials"]] == [t["gap"] for t in b["trials"]]


def test_bad_settings_are_refused(tmp_path, digits, original_mlp, forget_class3, retrained, cpu):
    with pytest.raises(ValueError, match="at least one trial"):
        run_search(tmp_path, digits, original_mlp, forget_class3, retrained, cpu, trials=0)
    with pytest.raises(ValueError, match="time_fraction"):
        run_search(tmp_path, digits, original_mlp, forget_class3, retrained, cpu, time_fraction=0.0)
    with pytest.raises(ValueError, match="not its hyperparameters"):
        run_search(tmp_path, digits, original_mlp, forget_class3, retrained, cpu, space={"momentum2": integer(1, 2)})


def test_a_trial_past_its_time_cap_is_stopped_and_ranked_last(
    tmp_path, digits, original_mlp, forget_class3, retrained, cpu
):
    """A bound of 1e-9 of retraining puts the cap (ABORT_FACTOR times it) far below any run: every trial
    is stopped, scored twice the penalty with its gap unknown, and the search still returns."""
    import signal

    import lethe.tuning.search as tuning

    result = run_search(tmp_path, digits, original_mlp, forget_class3, retrained, cpu, trials=2, time_fraction=1e-9)
    assert [t["aborted"] for t in result["trials"]] == [True, True]
    assert all(
        t["gap"] is None and not t["feasible"] and t["objective"] == 2 * INFEASIBLE_PENALTY for t in result["trials"]
    )
    assert result["gap"] is None and not result["feasible"] and result["best"] == {}  # the base values stay
    with tuning.time_cap(60.0):  # a cap that does not expire leaves the block alone and is removed after it
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
