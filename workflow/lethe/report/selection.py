"""What the model figures show: the GradCAM panels and the confusion matrices (torch-free).

Both show one forget set (the first class-forgetting one, else the first), the original,
the methods of the config's ``figures.methods`` (empty: the first two methods that apply
to that forget set, other than retrain) and retrain; the GradCAM panels only the first
seed that runs that forget set, and of each dataset and architecture only the methods its
study runs. ``workflow/rules/figures.smk`` declares the files named here as the figures'
inputs, so that they rerun only when a model they show changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lethe.plan.experiment import Plan
from lethe.plan.paths import METRICS, MODELS, ORIGINAL


@dataclass(frozen=True)
class FigureSelection:
    forget_set: str  # the forget set both figures show
    methods: list[str]  # their columns: original, the chosen methods, retrain
    seed: int  # the GradCAM panels' seed
    shown: dict[tuple[str, str], set[str]]  # (dataset, arch) -> methods run on that seed and forget set
    datasets: list[str]  # the datasets in the GradCAM panels


def select(plan: Plan, chosen: list[str]) -> FigureSelection:
    """The selection of ``plan`` for ``figures.methods`` = ``chosen``; a chosen method the
    plan does not run is an error naming the key."""
    ids = list(plan.forget_sets)
    classes = [fs for fs in ids if plan.forget_spec(fs)["kind"] != "random_samples"]
    forget_set = (classes or ids)[0]
    unknown = [m for m in chosen if m not in plan.methods]
    if unknown:
        raise ValueError(f"config key figures.methods: {unknown} not in methods {plan.methods}")
    # Chosen methods that do not apply to the figures' forget set (class-only methods on
    # random samples) are left out.
    applicable = [m for m in chosen or plan.methods if m != "retrain" and plan.applies(m, forget_set)]
    methods = [ORIGINAL, *(applicable if chosen else applicable[:2]), "retrain"]
    runs = plan.runs()
    seed = next(r.seed for r in runs if r.forget_set == forget_set)
    shown: dict[tuple[str, str], set[str]] = {}
    for run in runs:
        if run.seed == seed and run.forget_set == forget_set:
            shown.setdefault((run.dataset, run.arch), set()).add(run.method)
    datasets = [d for d in plan.datasets if any(d == key[0] for key in shown)]
    return FigureSelection(forget_set, methods, seed, shown, datasets)


def confusion_metrics(plan: Plan, selection: FigureSelection) -> list[str]:
    """Metrics JSONs of the confusion figure: every seed, the figures' forget set and methods."""
    return [
        METRICS.format(**run.wildcards, evaluated=run.method)
        for run in plan.runs()
        if run.forget_set == selection.forget_set and run.method in selection.methods
    ]


def saliency_checkpoints(plan: Plan, selection: FigureSelection) -> list[str]:
    """Checkpoints of the GradCAM panels: the figures' seed, forget set and methods (of each
    dataset and architecture, the methods its study runs; retrain always)."""
    paths = []
    for dataset in selection.datasets:
        for arch in plan.archs:
            if (dataset, arch) not in selection.shown:
                continue
            base = MODELS.format(dataset=dataset, arch=arch, seed=selection.seed)
            for method in selection.methods:
                if method != "retrain" and method not in selection.shown[dataset, arch]:
                    continue
                name = "original" if method == ORIGINAL else f"{selection.forget_set}/{method}"
                paths.append(f"{base}/{name}.safetensors")
    return paths


def fnn_run_records(plan: Plan) -> list[str]:
    """FNN's run records (its curves figure)."""
    return [
        f"{MODELS}/{{forget_set}}/fnn.run.json".format(**run.wildcards) for run in plan.runs() if run.method == "fnn"
    ]
