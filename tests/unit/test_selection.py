"""What the GradCAM panels and confusion matrices show (lethe.report.selection), without Snakemake."""

from __future__ import annotations

import pytest

from lethe.plan.config import load_plan
from lethe.plan.paths import ORIGINAL
from lethe.report.selection import confusion_metrics, fnn_run_records, saliency_checkpoints, select


def plan_of(**changes):
    config = {
        "datasets": ["digits"],
        "archs": ["mlp"],
        "seeds": [0, 1],
        "forget_sets": {
            "a_random10": {"kind": "random_samples", "fraction": 0.1, "seed": 0},  # sorts first
            "class3": {"kind": "classes", "classes": [3]},
        },
        "methods": ["retrain", "zero_output", "finetune", "neggrad", "fnn"],
    }
    config.update(changes)
    return load_plan(config)


def test_first_class_forget_set_and_first_two_methods_by_default():
    selection = select(plan_of(), [])
    assert selection.forget_set == "class3"  # class forgetting before random samples
    assert selection.methods == [ORIGINAL, "zero_output", "finetune", "retrain"]
    assert selection.seed == 0 and selection.datasets == ["digits"]


def test_chosen_methods_that_do_not_apply_are_left_out():
    only_random = {"random10": {"kind": "random_samples", "fraction": 0.1, "seed": 0}}
    selection = select(plan_of(forget_sets=only_random), ["zero_output", "neggrad"])
    assert selection.forget_set == "random10"
    assert selection.methods == [ORIGINAL, "neggrad", "retrain"]  # zero_output is class-only


def test_unknown_chosen_method_names_the_key():
    with pytest.raises(ValueError, match=r"figures.methods: \['unsir'\] not in methods"):
        select(plan_of(), ["unsir"])


def test_inputs_are_the_shown_models_only():
    plan = plan_of()
    selection = select(plan, ["neggrad"])
    assert saliency_checkpoints(plan, selection) == [
        "results/models/digits/mlp/seed0/original.safetensors",
        "results/models/digits/mlp/seed0/class3/neggrad.safetensors",
        "results/models/digits/mlp/seed0/class3/retrain.safetensors",
    ]
    metrics = confusion_metrics(plan, selection)
    assert len(metrics) == 2 * 3  # both seeds, original + neggrad + retrain
    assert all("/class3/" in path for path in metrics)
    assert fnn_run_records(plan) == [
        f"results/models/digits/mlp/seed{s}/{fs}/fnn.run.json" for s in (0, 1) for fs in ("a_random10", "class3")
    ]


def test_studies_limit_the_panels_to_what_each_runs():
    plan = plan_of(
        archs=["mlp", "cnn"],
        studies={
            "mlp_all": {"datasets": ["digits"], "archs": ["mlp"], "forget_sets": ["class3", "a_random10"]},
            "cnn_few": {"datasets": ["digits"], "archs": ["cnn"], "forget_sets": ["class3"], "methods": ["retrain"]},
        },
    )
    selection = select(plan, ["finetune"])
    assert selection.shown[("digits", "cnn")] == {ORIGINAL, "retrain"}
    cnn = [p for p in saliency_checkpoints(plan, selection) if "/cnn/" in p]
    assert cnn == [
        "results/models/digits/cnn/seed0/original.safetensors",
        "results/models/digits/cnn/seed0/class3/retrain.safetensors",
    ]  # no finetune: that study does not run it
