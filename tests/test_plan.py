"""The experiment plan built from a config, its validation, and the torch-free parse-time modules."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections import Counter

import pytest

from lethe.methods.catalog import METHODS
from lethe.plan import REFERENCE, Plan, Run

# A config like config/config.yaml, after the schema's defaults are filled in.
CONFIG = {
    "device": "auto",
    "datasets": ["digits"],
    "archs": ["mlp"],
    "seeds": [0, 1, 2],
    "data": {"root": "data", "fashion_mnist_idx": "/usr/share/datasets/fashion-mnist", "download": True},
    "train": {"epochs": 30, "batch_size": 32, "lr": 0.001, "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0},
    "forget_sets": {
        "class3": {"kind": "classes", "classes": [3]},
        "classes2": {"kind": "random_classes", "k": 2, "draws": 3, "seed": 0},
        "random10": {"kind": "random_samples", "fraction": 0.1, "seed": 0},
    },
    "methods": ["retrain", "finetune", "neggrad", "zero_output"],
    "method_params": {"neggrad": {"lr": 0.003, "batch_size": 32, "epochs": 10}},
    "evaluation": {"batch_size": 1024},
    "paper": {"title": "Lethe: what unlearning methods forget, and what they only hide"},
}
FORGET_IDS = ["class3", "classes2-0", "classes2-1", "classes2-2", "random10"]


def config(**changes) -> dict:
    result = copy.deepcopy(CONFIG)
    result.update(copy.deepcopy(changes))
    return result


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan(config())


def test_forget_set_expansion(plan):
    assert list(plan.forget_sets) == FORGET_IDS
    assert plan.forget_spec("classes2-1") == CONFIG["forget_sets"]["classes2"]


def test_runs(plan):
    runs = plan.runs()
    assert all(isinstance(run, Run) for run in runs)
    assert len(runs) == len(set(runs))
    # Per seed: 4 class forget sets x (original + 4 methods) + random10 x (original + 3 methods).
    assert len(runs) == 3 * (4 * 5 + 4)
    by_forget_set = {fs: {r.method for r in runs if r.forget_set == fs} for fs in FORGET_IDS}
    assert by_forget_set["random10"] == {REFERENCE, "retrain", "finetune", "neggrad"}
    for forget_set in FORGET_IDS[:-1]:
        assert by_forget_set[forget_set] == {REFERENCE, *CONFIG["methods"]}
    assert Counter(r.seed for r in runs) == {0: 24, 1: 24, 2: 24}
    assert runs[0].wildcards == {
        "dataset": "digits",
        "arch": "mlp",
        "seed": 0,
        "forget_set": "class3",
        "method": REFERENCE,
    }


def test_applies(plan):
    assert not plan.applies("zero_output", "random10")
    assert plan.applies("zero_output", "classes2-0")
    assert plan.applies(REFERENCE, "random10")
    assert plan.applies("neggrad", "random10")


def test_runs_follow_the_config_lists():
    plan = Plan(config(datasets=["digits", "fashion_mnist"], archs=["mlp", "cnn"], seeds=[5], methods=["neggrad"]))
    runs = plan.runs()
    assert {r.method for r in runs} == {REFERENCE, "neggrad"}
    assert len(runs) == 2 * 2 * 1 * 5 * 2
    assert {(r.dataset, r.arch) for r in runs} == {(d, a) for d in ("digits", "fashion_mnist") for a in ("mlp", "cnn")}


def test_params(plan):
    assert plan.params["retrain"] == CONFIG["train"]
    assert plan.params["neggrad"]["lr"] == 0.003 and plan.params["neggrad"]["batch_size"] == 32
    assert plan.params["neggrad"]["target_forget_acc"] == "auto"  # registry default kept
    assert plan.params["finetune"] == METHODS["finetune"].defaults
    assert plan.params["zero_output"] == {}


# --------------------------------------------------------------------------- errors


def test_unknown_method_in_methods():
    with pytest.raises(KeyError, match="forget_everything"):
        Plan(config(methods=["retrain", "forget_everything"]))


def test_unknown_method_in_method_params():
    with pytest.raises(ValueError, match="method_params") as info:
        Plan(config(method_params={"forget_everything": {"lr": 0.1}}))
    assert "forget_everything" in str(info.value)


def test_unknown_parameter_in_method_params():
    with pytest.raises(ValueError, match=r"method_params\.finetune") as info:
        Plan(config(method_params={"finetune": {"learning_rate": 0.1}}))
    assert "learning_rate" in str(info.value)


def test_bad_forget_set_name():
    with pytest.raises(ValueError, match="forget_sets.class-3"):
        Plan(config(forget_sets={"class-3": {"kind": "classes", "classes": [3]}}))


# --------------------------------------------------------------------------- wildcards


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(f"(?:{pattern})", value) is not None


def test_wildcard_constraints(plan):
    constraints = plan.wildcard_constraints()
    assert set(constraints) == {"dataset", "arch", "seed", "forget_set", "method", "evaluated"}
    valid = {
        "dataset": ["digits", "mnist", "fashion_mnist", "cifar10", "cifar100"],
        "arch": ["mlp", "cnn", "resnet18"],
        "seed": ["0", "42"],
        "forget_set": ["class3", "classes2-0", "classes2-12", "random10", "my_set"],
        "method": list(METHODS),
        "evaluated": [REFERENCE, *METHODS],
    }
    invalid = {
        "dataset": ["imagenet", "digits/x", ""],
        "arch": ["vgg", "mlp2"],
        "seed": ["x", "-1", "1.5"],
        "forget_set": ["class-x", "a/b", "two-", ""],
        "method": [REFERENCE, "erm_ktp", "zero_output/x"],
        "evaluated": ["erm_ktp"],
    }
    for key, values in valid.items():
        for value in values:
            assert matches(constraints[key], value), (key, value)
    for key, values in invalid.items():
        for value in values:
            assert not matches(constraints[key], value), (key, value)


def test_every_run_matches_the_constraints(plan):
    constraints = plan.wildcard_constraints()
    for run in plan.runs():
        for key, value in run.wildcards.items():
            assert matches(constraints[key if key != "method" else "evaluated"], str(value)), (key, value)


# --------------------------------------------------------------------------- torch-free


@pytest.mark.parametrize(
    "modules",
    [
        "lethe.plan",
        "lethe.methods.catalog, lethe.models.catalog, lethe.data.catalog, lethe.data.forget_sets",
        "lethe.methods",
    ],
)
def test_parse_time_modules_do_not_import_torch(modules):
    code = f"import sys, {modules}; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
