"""The experiment plan built from a config, its validation, and the torch-free parse-time modules."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from helpers.plan_config import CONFIG

from lethe.methods.catalog import METHODS
from lethe.plan.experiment import Plan, Run, canonical
from lethe.plan.paths import ORIGINAL

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
    assert by_forget_set["random10"] == {ORIGINAL, "retrain", "finetune", "neggrad"}
    for forget_set in FORGET_IDS[:-1]:
        assert by_forget_set[forget_set] == {ORIGINAL, *CONFIG["methods"]}
    assert Counter(r.seed for r in runs) == {0: 24, 1: 24, 2: 24}
    assert runs[0].wildcards == {
        "dataset": "digits",
        "arch": "mlp",
        "seed": 0,
        "forget_set": "class3",
        "method": ORIGINAL,
    }


def test_applies(plan):
    assert not plan.applies("zero_output", "random10")
    assert plan.applies("zero_output", "classes2-0")
    assert plan.applies(ORIGINAL, "random10")
    assert plan.applies("neggrad", "random10")


def test_runs_follow_the_config_lists():
    plan = Plan(config(datasets=["digits", "fashion_mnist"], archs=["mlp", "cnn"], seeds=[5], methods=["neggrad"]))
    runs = plan.runs()
    assert {r.method for r in runs} == {ORIGINAL, "neggrad"}
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
    assert set(constraints) == {"dataset", "arch", "seed", "forget_set", "method", "evaluated", "kind"}
    valid = {
        "dataset": ["digits", "mnist", "fashion_mnist", "cifar10", "cifar100"],
        "arch": [
            "mlp",
            "cnn",
            "resnet18",
            "allcnn",
            "timm-vit_tiny_patch16_224",
            "timm-vit_tiny_patch16_224.augreg_in21k",
        ],
        "seed": ["0", "42"],
        "forget_set": ["class3", "classes2-0", "classes2-12", "random10", "my_set"],
        "method": list(METHODS),
        "evaluated": [ORIGINAL, *METHODS],
    }
    invalid = {
        "dataset": ["imagenet", "digits/x", ""],
        "arch": ["vgg", "mlp2", "timm:vit_tiny_patch16_224", "timm-", "timm-vit/x", "timm-a-b", "timm-a.b.c"],
        "seed": ["x", "-1", "1.5"],
        "forget_set": ["class-x", "a/b", "two-", ""],
        "method": [ORIGINAL, "ermktp", "zero_output/x"],
        "evaluated": ["ermktp"],
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
        "lethe.plan.experiment",
        "lethe.methods.catalog, lethe.models.catalog, lethe.data.catalog, lethe.data.forget_sets",
        "lethe.methods",
        "lethe.metrics.catalog, lethe.report.catalog, lethe.report.selection, lethe.docs, lethe.plan.config",
    ],
)
def test_parse_time_modules_do_not_import_torch(modules):
    code = f"import sys, {modules}; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------- studies

STUDIES_CONFIG = config(
    datasets=["digits", "cifar100"],
    archs=["mlp", "cnn", "resnet18"],
    seeds=[0, 1],
    forget_sets={
        "class3": {"kind": "classes", "classes": [3]},
        "classes20": {"kind": "random_classes", "k": 20, "draws": 2, "seed": 0},
        "random10": {"kind": "random_samples", "fraction": 0.1, "seed": 0},
    },
    methods=["retrain", "finetune", "zero_output"],
    studies={
        "small": {"datasets": ["digits"], "archs": ["mlp", "cnn"], "forget_sets": ["class3", "random10"]},
        "many_classes": {
            "datasets": ["cifar100"],
            "archs": ["resnet18"],
            "forget_sets": ["class3", "classes20"],
            "methods": ["retrain", "zero_output"],
            "seeds": [1],
        },
    },
)


def studies_config(**study_changes) -> dict:
    """STUDIES_CONFIG with study ``name`` replaced by ``study_changes[name]`` (None removes it)."""
    result = copy.deepcopy(STUDIES_CONFIG)
    for name, study in study_changes.items():
        if study is None:
            del result["studies"][name]
        else:
            result["studies"][name] = copy.deepcopy(study)
    return result


def test_studies_plan_the_union_and_nothing_else():
    plan = Plan(STUDIES_CONFIG)
    runs = plan.runs()
    assert len(runs) == len(set(runs))
    small = {
        Run("digits", arch, seed, fs, method)
        for arch in ("mlp", "cnn")
        for seed in (0, 1)
        for fs in ("class3", "random10")
        for method in (ORIGINAL, "retrain", "finetune", "zero_output")
        if not (fs == "random10" and method == "zero_output")
    }
    many = {
        Run("cifar100", "resnet18", 1, fs, method)
        for fs in ("class3", "classes20-0", "classes20-1")
        for method in (ORIGINAL, "retrain", "zero_output")
    }
    assert set(runs) == small | many
    # Combinations no study asks for: a study's arch or forget set on another study's dataset,
    # a method or seed outside the study, a 20-class forget set on a 10-class dataset.
    absent = [
        Run("digits", "resnet18", 0, "class3", ORIGINAL),
        Run("cifar100", "mlp", 1, "class3", ORIGINAL),
        Run("digits", "mlp", 0, "classes20-0", ORIGINAL),
        Run("cifar100", "resnet18", 1, "random10", ORIGINAL),
        Run("cifar100", "resnet18", 1, "class3", "finetune"),
        Run("cifar100", "resnet18", 0, "class3", ORIGINAL),
    ]
    assert not set(absent) & set(runs)
    assert plan.datasets == ["digits", "cifar100"]
    assert plan.archs == ["mlp", "cnn", "resnet18"]
    assert plan.seeds == [0, 1]
    assert plan.methods == ["retrain", "finetune", "zero_output"]
    assert plan.models() == [
        ("digits", "mlp", 0),
        ("digits", "mlp", 1),
        ("digits", "cnn", 0),
        ("digits", "cnn", 1),
        ("cifar100", "resnet18", 1),
    ]
    assert plan.dataset_forget_sets() == [
        ("digits", "class3"),
        ("digits", "random10"),
        ("cifar100", "class3"),
        ("cifar100", "classes20-0"),
        ("cifar100", "classes20-1"),
    ]


def test_overlapping_studies_share_runs():
    """A combination in two studies runs once (the union is deduplicated)."""
    twice = studies_config(again={"datasets": ["digits"], "archs": ["mlp"], "forget_sets": ["class3"]})
    assert sorted(Plan(twice).runs(), key=repr) == sorted(Plan(STUDIES_CONFIG).runs(), key=repr)


def test_no_studies_is_the_top_level_cross_product(plan):
    """Without studies (absent or empty) the plan is exactly as before studies existed."""
    expected = [
        Run(d, a, s, fs, m)
        for d in CONFIG["datasets"]
        for a in CONFIG["archs"]
        for s in CONFIG["seeds"]
        for fs in FORGET_IDS
        for m in [ORIGINAL, *CONFIG["methods"]]
        if not (fs == "random10" and m == "zero_output")
    ]
    assert plan.runs() == expected
    assert Plan(config(studies={})).runs() == expected
    assert (plan.datasets, plan.archs, plan.seeds, plan.methods) == (
        CONFIG["datasets"],
        CONFIG["archs"],
        CONFIG["seeds"],
        CONFIG["methods"],
    )
    assert plan.forget_set_ids == FORGET_IDS
    assert plan.models() == [("digits", "mlp", s) for s in CONFIG["seeds"]]
    assert plan.dataset_forget_sets() == [("digits", fs) for fs in FORGET_IDS]
    # What paper_inputs passes on: the keys and lists it passed before studies, no `studies`.
    setup = Plan(config(studies={})).setup_config()
    tuning = setup.pop("tuning")
    assert setup == {k: CONFIG[k] for k in ("datasets", "archs", "seeds", "train", "methods", "method_params", "paper")}
    assert list(setup) == ["datasets", "archs", "seeds", "train", "methods", "method_params", "paper"]
    # No tuning key: the paper's defaults, per method and forget-set kind it runs on.
    assert set(tuning["sources"]) == set(CONFIG["methods"])
    assert {source for kinds in tuning["sources"].values() for source in kinds.values()} == {"defaults"}
    assert set(tuning["sources"]["finetune"]) == {"classes", "random_classes", "random_samples"}


def test_one_study_of_the_top_level_lists_plans_the_same_runs(plan):
    whole = {key: CONFIG[key] for key in ("datasets", "archs", "seeds", "methods")}
    one = config(studies={"all": {**whole, "forget_sets": list(CONFIG["forget_sets"])}})
    assert Plan(one).runs() == plan.runs()


@pytest.mark.parametrize(
    ("study", "key", "bad"),
    [
        ({"forget_sets": ["class3", "class9"]}, "studies.small.forget_sets", "class9"),
        ({"datasets": ["digits", "mnist"]}, "studies.small.datasets", "mnist"),
        ({"archs": ["mlp", "allcnn"]}, "studies.small.archs", "allcnn"),
        ({"methods": ["retrain", "scrub"]}, "studies.small.methods", "scrub"),
        ({"seeds": [0, 7]}, "studies.small.seeds", "7"),
        ({"forget_set": ["class3"]}, "studies.small", "forget_set"),
        ({"datasets": []}, "studies.small.datasets", "empty"),
    ],
)
def test_study_naming_what_the_config_lacks(study, key, bad):
    small = {**STUDIES_CONFIG["studies"]["small"], **study}
    with pytest.raises(ValueError, match=re.escape(key)) as info:
        Plan(studies_config(small=small))
    assert bad in str(info.value)


def test_study_missing_a_required_key():
    small = {k: v for k, v in STUDIES_CONFIG["studies"]["small"].items() if k != "archs"}
    with pytest.raises(ValueError, match=r"studies\.small\.archs is required"):
        Plan(studies_config(small=small))


def test_forget_set_that_does_not_fit_a_study_dataset():
    # classes20 (k=20) on 10-class digits
    small = {**STUDIES_CONFIG["studies"]["small"], "forget_sets": ["class3", "classes20"]}
    with pytest.raises(ValueError, match=r"studies\.small") as info:
        Plan(studies_config(small=small))
    assert "classes20" in str(info.value) and "digits" in str(info.value) and "10 classes" in str(info.value)
    # class 12 of a 10-class dataset; without studies the key is the forget set's
    with pytest.raises(ValueError, match=r"config key forget_sets") as info:
        Plan(config(forget_sets={"class12": {"kind": "classes", "classes": [12]}}))
    assert "class12" in str(info.value) and "digits" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "unused"),
    [
        ("datasets", ["digits", "cifar100", "mnist"], "mnist"),
        ("archs", ["mlp", "cnn", "resnet18", "allcnn"], "allcnn"),
        ("seeds", [0, 1, 2], "2"),
        ("methods", ["retrain", "finetune", "zero_output", "neggrad"], "neggrad"),
        ("forget_sets", {**STUDIES_CONFIG["forget_sets"], "class4": {"kind": "classes", "classes": [4]}}, "class4"),
    ],
)
def test_top_level_entry_in_no_study(key, value, unused):
    bad = copy.deepcopy(STUDIES_CONFIG)
    bad[key] = value
    # Optional keys default to the whole top-level list: a study that names its own leaves some out.
    bad["studies"]["small"].update(seeds=[0, 1], methods=["retrain", "finetune", "zero_output"])
    with pytest.raises(ValueError, match=rf"config key {key}: .*in no study") as info:
        Plan(bad)
    assert unused in str(info.value)


def test_unknown_top_level_dataset_or_arch():
    with pytest.raises(ValueError, match=r"config key datasets") as info:
        Plan(config(datasets=["digits", "svhn"]))
    assert "svhn" in str(info.value)
    with pytest.raises(ValueError, match=r"config key archs") as info:
        Plan(config(archs=["vgg"]))
    assert "vgg" in str(info.value)


def test_setup_section_lists_the_studies():
    from lethe.report.setup import setup_section

    plan = Plan(STUDIES_CONFIG)
    setup = plan.setup_config()
    assert setup["seeds"] == [0, 1] and set(setup["studies"]) == {"small", "many_classes"}
    assert setup["studies"]["small"]["methods"] == STUDIES_CONFIG["methods"]  # the default, filled in
    assert setup["studies"]["many_classes"]["forget_sets"] == ["class3", "classes20"]
    text = setup_section(setup, {m: plan.params[m] for m in plan.methods}, [], [], [])
    assert r"\paragraph{Studies.}" in text
    assert (
        r"\item \texttt{many\_classes}: datasets \texttt{cifar100}; architectures \texttt{resnet18}; seeds 1;" in text
    )
    assert r"\paragraph{Studies.}" not in setup_section(Plan(config()).setup_config(), plan.params, [], [], [])


def test_setup_section_prints_search_spaces_and_where_values_came_from():
    from lethe.report.setup import setup_section

    plan = Plan(config(methods=["retrain", "neggrad", "ssd"], method_params={"neggrad": {"lr": 0.003}}))
    text = setup_section(plan.setup_config(), {m: plan.params[m] for m in plan.methods}, [], [], [])
    assert r"\paragraph{Search spaces.}" in text and "No search produced the values above" in text
    assert (
        r"\item \texttt{neggrad}: lr [1e-05, 0.1, log]; epochs \{1..10\}; batch\_size \{32, 64, 128, 256\}. "
        r"Picked by hand in this configuration: \texttt{lr}; the rest ran at the paper's defaults." in text
    )
    assert (
        r"\item \texttt{ssd}: alpha [1, 1000, log]; lambda [0.1, 10, log]. These ran at the paper's defaults." in text
    )
    assert r"\item \texttt{retrain}:" not in text.split("Search spaces")[1]  # nothing to search


# --------------------------------------------------------------------------- config files

REPO = Path(__file__).resolve().parents[2]


def load_config(path: str) -> dict:
    """A config file as the workflow sees it: validated against the schema (defaults filled), keys sorted."""
    from snakemake.utils import validate

    loaded = yaml.safe_load((REPO / path).read_text())
    validate(loaded, str(REPO / "config" / "schema.yaml"))
    return canonical(loaded)


@pytest.mark.parametrize("path", ["config/config.yaml", "config/fashion.yaml", "config/fashion_baselines.yaml"])
def test_config_files_without_studies_plan_their_cross_product(path):
    loaded = load_config(path)
    assert loaded["studies"] == {}
    plan = Plan(loaded)
    cross = [
        (d, a, s, fs, m)
        for d in loaded["datasets"]
        for a in loaded["archs"]
        for s in loaded["seeds"]
        for fs in plan.forget_sets
        if plan.drawn_for(fs, s)  # a per-seed draw runs with its own seed only
        for m in [ORIGINAL, *loaded["methods"]]
        if plan.applies(m, fs)
    ]
    assert [(r.dataset, r.arch, r.seed, r.forget_set, r.method) for r in plan.runs()] == cross


def test_paper_config_plans_what_it_documents():
    """config/paper.yaml validates, plans, and has the job counts its header and config/README.md state."""
    plan = Plan(load_config("config/paper.yaml"))
    runs = plan.runs()
    assert len(runs) == 2049  # evaluate jobs
    assert sum(r.method != ORIGINAL for r in runs) == 1968  # unlearn jobs
    assert len(plan.models()) == 30  # train_original jobs
    assert len({(r.dataset, r.arch, r.seed) for r in runs if r.method == "sisa"}) == 30  # train_sisa jobs
    assert len({(r.dataset, r.arch, r.seed) for r in runs if r.method == "erm_ktp"}) == 30  # train_erm jobs
    assert len(plan.dataset_forget_sets()) == 21  # make_forget_set jobs
    assert len(plan.datasets) == 4  # prepare_dataset jobs
    assert set(plan.studies) == {"mnist_single_class", "cifar10_single_class", "cifar100_classes", "fnn_random_samples"}
    # What each study is for, and nothing more.
    assert {r.arch for r in runs if r.dataset == "cifar10"} == {"resnet18", "allcnn", "timm-vit_tiny_patch16_224"}
    assert {r.arch for r in runs if r.dataset == "cifar100"} == {"resnet18"}
    assert {"allcnn", "timm-vit_tiny_patch16_224"}.isdisjoint({r.arch for r in runs if r.dataset != "cifar10"})
    assert {fs for d, fs in plan.dataset_forget_sets() if d == "cifar100"} == {
        "class2",
        *(f"classes{k}-{i}" for k in (20, 40, 60) for i in range(5)),
    }
    assert {fs for d, fs in plan.dataset_forget_sets() if d in ("mnist", "fashion_mnist")} == {"class2", "random10000"}
    random = [r for r in runs if r.forget_set == "random10000"]
    assert {(r.dataset, r.arch) for r in random} == {("mnist", "mlp"), ("fashion_mnist", "mlp")}
    assert {r.method for r in random} == {ORIGINAL, "retrain", "finetune", "fnn"}
    assert plan.forget_spec("random10000")["count"] == 10000
    assert {r.method for r in runs if r.forget_set == "classes60-4"} == {ORIGINAL, *plan.methods}
    assert set(plan.methods) == set(METHODS)
