"""Forget sets: the three kinds, reproducibility, validation, expansion, retain complement."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.digits_sizes import N_TRAIN

from lethe.data.forget_sets import expand_forget_sets, make_forget_set, retain_indices, split_id

N_CLASSES = 10


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    """A synthetic label vector: 500 samples, every class present."""
    return np.random.default_rng(123).integers(0, N_CLASSES, 500)


def make(forget_id, spec, labels, num_classes=N_CLASSES):
    return make_forget_set(forget_id, spec, labels, num_classes, "toy")


# --------------------------------------------------------------------------- kinds


def test_classes_kind(labels):
    record = make("pair", {"kind": "classes", "classes": [5, 2]}, labels)
    assert record["classes"] == [2, 5]  # sorted
    assert record["indices"] == np.flatnonzero((labels == 2) | (labels == 5)).tolist()
    assert record["size"] == len(record["indices"]) > 0
    assert record["num_classes_forgotten"] == 2
    assert (record["id"], record["name"], record["draw"], record["kind"]) == ("pair", "pair", None, "classes")
    assert record["dataset"] == "toy"
    assert record["spec"] == {"kind": "classes", "classes": [5, 2]}


def test_class3_on_digits(forget_class3, y_train):
    assert forget_class3["classes"] == [3]
    assert forget_class3["indices"] == np.flatnonzero(y_train == 3).tolist()
    assert forget_class3["size"] == 123  # digits' training split has 123 threes (137 less 14 for validation)


def test_random_classes_kind(labels):
    spec = {"kind": "random_classes", "k": 3, "draws": 4, "seed": 7}
    for draw in range(4):
        record = make(f"three-{draw}", spec, labels)
        assert (record["name"], record["draw"]) == ("three", draw)
        assert len(record["classes"]) == len(set(record["classes"])) == 3
        assert record["classes"] == sorted(record["classes"])
        assert all(0 <= c < N_CLASSES for c in record["classes"])
        assert record["indices"] == np.flatnonzero(np.isin(labels, record["classes"])).tolist()
        assert record["num_classes_forgotten"] == 3


def test_random_classes_needs_a_draw_index(labels):
    with pytest.raises(ValueError, match="three-0"):
        make("three", {"kind": "random_classes", "k": 3, "draws": 2}, labels)


def test_random_samples_fraction_and_count(labels):
    by_fraction = make("r", {"kind": "random_samples", "fraction": 0.1, "seed": 0}, labels)
    assert by_fraction["size"] == 50
    assert by_fraction["classes"] is None and by_fraction["num_classes_forgotten"] is None
    by_count = make("r", {"kind": "random_samples", "count": 17, "seed": 0}, labels)
    assert by_count["size"] == 17
    for record in (by_fraction, by_count):
        indices = record["indices"]
        assert indices == sorted(set(indices))  # sorted, no duplicates
        assert 0 <= indices[0] and indices[-1] < len(labels)


def test_random10_on_digits(forget_random):
    assert forget_random["size"] == round(0.1 * N_TRAIN)
    assert forget_random["classes"] is None


# --------------------------------------------------------------------------- reproducibility


def test_random_classes_reproducible_and_independent_of_draw_count(labels):
    few = {"kind": "random_classes", "k": 2, "draws": 2, "seed": 0}
    many = {**few, "draws": 6}
    for draw in range(2):
        a = make(f"two-{draw}", few, labels)
        assert a["classes"] == make(f"two-{draw}", few, labels)["classes"]
        assert a["classes"] == make(f"two-{draw}", many, labels)["classes"]
        assert a["indices"] == make(f"two-{draw}", many, labels)["indices"]
    draws = [tuple(make(f"two-{d}", many, labels)["classes"]) for d in range(6)]
    assert len(set(draws)) > 1  # draws differ from one another
    other_seed = [tuple(make(f"two-{d}", {**many, "seed": 1}, labels)["classes"]) for d in range(6)]
    assert other_seed != draws


def test_random_samples_reproducible(labels):
    spec = {"kind": "random_samples", "fraction": 0.2, "seed": 3}
    assert make("r", spec, labels)["indices"] == make("r", dict(spec), labels)["indices"]
    assert make("r", spec, labels)["indices"] != make("r", {**spec, "seed": 4}, labels)["indices"]


def test_random_samples_default_seed_is_zero(labels):
    assert (
        make("r", {"kind": "random_samples", "count": 9}, labels)["indices"]
        == make("r", {"kind": "random_samples", "count": 9, "seed": 0}, labels)["indices"]
    )


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", [[10], [3, 12], [-1]])
def test_out_of_range_classes(labels, bad):
    with pytest.raises(ValueError, match=r"forget_sets\.oops\.classes") as info:
        make("oops", {"kind": "classes", "classes": bad}, labels)
    assert "toy" in str(info.value) and "0..9" in str(info.value)


@pytest.mark.parametrize("k", [0, 10, 11, -2])
def test_bad_k(labels, k):
    with pytest.raises(ValueError, match=rf"forget_sets\.many\.k={k}"):
        make("many-0", {"kind": "random_classes", "k": k, "draws": 1}, labels)


@pytest.mark.parametrize("spec", [{"count": 0}, {"count": 500}, {"count": 600}, {"fraction": 0.0}, {"fraction": 1.0}])
def test_random_samples_must_be_a_proper_subset(labels, spec):
    with pytest.raises(ValueError, match=r"forget_sets\.some:"):
        make("some", {"kind": "random_samples", **spec}, labels)


def test_unknown_kind(labels):
    with pytest.raises(ValueError, match=r"forget_sets\.x\.kind"):
        make("x", {"kind": "everything"}, labels)


# --------------------------------------------------------------------------- naming


def test_expand_forget_sets_names():
    ids = expand_forget_sets(
        {
            "class3": {"kind": "classes", "classes": [3]},
            "two": {"kind": "random_classes", "k": 2, "draws": 3, "seed": 0},
            "random10": {"kind": "random_samples", "fraction": 0.1},
        }
    )
    assert list(ids) == ["class3", "two-0", "two-1", "two-2", "random10"]
    assert ids["class3"] == ("class3", None)
    assert ids["two-2"] == ("two", 2)
    assert ids["random10"] == ("random10", None)


def test_expand_forget_sets_rejects_bad_names_and_kinds():
    with pytest.raises(ValueError, match=r"forget_sets\.a-b"):
        expand_forget_sets({"a-b": {"kind": "classes", "classes": [1]}})
    with pytest.raises(ValueError, match=r"forget_sets\.x\.kind"):
        expand_forget_sets({"x": {"kind": "nope"}})


def test_split_id():
    assert split_id("two-3") == ("two", 3)
    assert split_id("class3") == ("class3", None)
    assert split_id("a_b-10") == ("a_b", 10)
    with pytest.raises(ValueError, match="not a forget-set id"):
        split_id("a-b")


# --------------------------------------------------------------------------- retain


@pytest.mark.parametrize("forget_fixture", ["forget_class3", "forget_random"])
def test_retain_indices_is_the_complement(request, forget_fixture, y_train):
    forget = request.getfixturevalue(forget_fixture)
    n = len(y_train)
    retain = retain_indices(forget, n)
    assert retain.tolist() == sorted(retain.tolist())
    assert set(retain.tolist()).isdisjoint(forget["indices"])
    assert set(retain.tolist()) | set(forget["indices"]) == set(range(n))
    assert len(retain) + forget["size"] == n


def test_per_seed_random_samples_are_one_draw_per_seed_run_with_that_seed_only():
    spec = {"kind": "random_samples", "fraction": 0.1, "seed": 0, "per_seed": True}
    ids = expand_forget_sets({"random10": spec}, seeds=[0, 1, 2])
    assert ids == {"random10-0": ("random10", 0), "random10-1": ("random10", 1), "random10-2": ("random10", 2)}
    labels = np.repeat(np.arange(10), 50)
    draws = [make_forget_set(f"random10-{s}", spec, labels, 10, "toy")["indices"] for s in range(3)]
    assert len({tuple(d) for d in draws}) == 3 and all(len(d) == 50 for d in draws)
    assert make_forget_set("random10-1", spec, labels, 10, "toy")["indices"] == draws[1]  # seeded
    once = {**spec, "per_seed": False}  # one draw for every seed, as before
    assert expand_forget_sets({"random10": once}, seeds=[0, 1]) == {"random10": ("random10", None)}
    with pytest.raises(ValueError, match="per seed"):
        make_forget_set("random10", spec, labels, 10, "toy")
    from lethe.plan.config import load_plan

    plan = load_plan({"seeds": [0, 1], "forget_sets": {"random10": spec}, "methods": ["retrain"]})
    assert {(r.seed, r.forget_set) for r in plan.runs()} == {(0, "random10-0"), (1, "random10-1")}
