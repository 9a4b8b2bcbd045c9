"""Shared fixtures: the embedded digits dataset, two forget sets and one trained MLP; and the tiers.

Everything heavy is session-scoped: the dataset is prepared once and the original MLP
is trained once (about a second on one CPU thread).

Each test is marked with its tier, the folder it lives in: ``unit`` (tests/unit: pure functions,
config, plan, catalogues, data, metrics, report, engine pieces; no Snakemake run), ``methods``
(tests/methods: the unlearning methods and methodkit) and ``workflow`` (tests/workflow: Snakemake,
the worker end to end, SLURM), and ``slow`` marks the longest unit and methods tests, so ``pytest -m "(unit or methods) and not slow"``
is the fast tier (make test-fast).
Shared code that is not a fixture lives in tests/helpers (``from helpers.X import ...``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from helpers.methods import unlearn_each
from helpers.settings import CLASS3_SPEC, METHOD_OVERRIDES, RANDOM10_SPEC, TRAIN_RECIPE

from lethe.data.datasets import prepare_dataset
from lethe.data.forget_sets import make_forget_set, retain_indices
from lethe.data.tensors import Split, load_dataset
from lethe.models.registry import build_model
from lethe.train import fit

# One thread: bit-reproducible CPU results and no oversubscription on small machines.
torch.set_num_threads(1)

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "methods", "workflow")


def pytest_collection_modifyitems(config, items):
    """Mark every test with its tier: the first folder of its path below tests/."""
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(TESTS).parts[0]
        except ValueError:  # a test file outside tests/
            continue
        if folder in TIERS:
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(scope="session")
def cpu() -> torch.device:
    return torch.device("cpu")


@pytest.fixture(scope="session")
def train_recipe() -> dict:
    return dict(TRAIN_RECIPE)


@pytest.fixture(scope="session")
def method_overrides() -> dict:
    return {name: dict(params) for name, params in METHOD_OVERRIDES.items()}


@pytest.fixture(scope="session")
def digits_files(tmp_path_factory):
    """(npz path, manifest path, manifest) of the prepared digits dataset."""
    folder = tmp_path_factory.mktemp("digits")
    npz, manifest_path = folder / "digits.npz", folder / "digits.json"
    manifest = prepare_dataset("digits", npz, manifest_path, root=folder / "root", download=False)
    return npz, manifest_path, manifest


@pytest.fixture(scope="session")
def digits(digits_files, cpu):
    npz, manifest_path, _ = digits_files
    return load_dataset(npz, manifest_path, cpu)


@pytest.fixture(scope="session")
def y_train(digits):
    return digits.train.y.numpy()


@pytest.fixture(scope="session")
def forget_class3(digits, y_train) -> dict:
    return make_forget_set("class3", dict(CLASS3_SPEC), y_train, digits.num_classes, "digits")


@pytest.fixture(scope="session")
def forget_random(digits, y_train) -> dict:
    return make_forget_set("random10", dict(RANDOM10_SPEC), y_train, digits.num_classes, "digits")


@pytest.fixture(scope="session")
def poisoned_digits(digits, forget_class3):
    """digits with every retain (non-forget) training image NaN and every retain label shifted:
    a method that never reads the retain set gives the same result on it (PBU, Boundary)."""
    retain = torch.as_tensor(retain_indices(forget_class3, len(digits.train)))
    x, y = digits.train.x.clone(), digits.train.y.clone()
    x[retain] = float("nan")
    y[retain] = (y[retain] + 1) % digits.num_classes
    return dataclasses.replace(digits, train=Split(x, y))


@pytest.fixture(scope="session")
def original_mlp(digits):
    """The original model: MLP, Adam lr 1e-3, batch 32, 30 epochs, seed 0, on all of digits' training set."""
    model = build_model("mlp", tuple(digits.manifest["shape"]), digits.num_classes, seed=0)
    fit(model, digits.train, seed=0, **TRAIN_RECIPE)
    return model.eval()


@pytest.fixture(scope="session")
def original_metrics(original_mlp, digits, forget_class3) -> dict:
    from lethe.metrics.evaluate import evaluate_model

    return evaluate_model(original_mlp, digits, forget_class3)["metrics"]


@pytest.fixture(scope="session")
def unlearned_class3(original_mlp, digits, forget_class3, cpu, request):
    """Every registered method applied once to the class-3 forget set: {method: (model, record)}.

    Each starts from the model its catalogue entry names (``original``): the original MLP,
    or SISA's own sharded ensemble (:func:`sisa_original_mlp`).
    """
    from lethe.methods.catalog import METHODS

    return unlearn_each(METHODS, original_mlp, digits, forget_class3, cpu, request)


@pytest.fixture(scope="session")
def sisa_original_mlp(digits):
    """SISA's original: 5 MLPs on 5 shards of digits, 4 slices each, with the default run's sisa parameters, seed 0."""
    from lethe.methodkit.sharding import train_sisa
    from lethe.methods.catalog import merge_params

    params = merge_params("sisa", METHOD_OVERRIDES.get("sisa"))
    return train_sisa(digits.train, "mlp", tuple(digits.manifest["shape"]), digits.num_classes, params, seed=0)[0]


@pytest.fixture(scope="session")
def erm_original_mlp(digits):
    """ERM-KTP's original: the conftest original's recipe and seed with class masks (the default run's
    erm_ktp mask parameters), its masks in ``stages``."""
    from lethe.methodkit.class_masks import MASK_KEY, train_erm
    from lethe.methods.catalog import merge_params, original_params

    model = build_model("mlp", tuple(digits.manifest["shape"]), digits.num_classes, seed=0)
    params = original_params("erm_ktp", merge_params("erm_ktp", METHOD_OVERRIDES.get("erm_ktp")))
    mask, _, _ = train_erm(model, digits.train, TRAIN_RECIPE, params, seed=0)
    model.stages = {MASK_KEY: mask}
    return model.eval()


@pytest.fixture(scope="session")
def constant_model():
    """An MLP whose output ignores the input (zero output weights, fixed bias): an MIA must be at chance."""
    model = build_model("mlp", (1, 8, 8), 10, seed=0)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.arange(10.0) / 10)
    return model.eval()
