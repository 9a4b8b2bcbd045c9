"""The method registry's catalogue: names, defaults and data needs (torch-free).

The Snakefile reads this module at parse time to merge each method's defaults with the
config's overrides (one ``params`` entry per method, so that changing one
hyperparameter reruns that method's jobs only). The implementation of method ``m``
lives in ``lethe/methods/{m}.py`` as a function ``unlearn(model, data, params, ctx)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MethodInfo:
    name: str
    summary: str
    citation: str  # BibTeX key in paper/references.bib ("" for none)
    defaults: dict = field(default_factory=dict)
    needs_forget: bool = True  # receives the forget-set images
    needs_retain: bool = True  # receives retain data (PBU and GA do not)
    needs_original: bool = True  # starts from the original weights (retrain does not)
    class_only: bool = False  # only defined for class forgetting
    # Package modules (besides methods/{name}.py) whose code shapes the result; the
    # workflow lists them as inputs so that editing one reruns this method's jobs.
    modules: tuple[str, ...] = ()


_SGD = {"optimizer": "sgd", "momentum": 0.9}

METHODS: dict[str, MethodInfo] = {
    info.name: info
    for info in (
        MethodInfo(
            "retrain",
            "Train from scratch on the retain set with the original recipe (gold standard).",
            "cao2015towards",
            defaults={},  # the workflow passes the config's training recipe
            needs_forget=False,
            needs_original=False,
        ),
        MethodInfo(
            "finetune",
            "Fine-tune the original model on the retain set (catastrophic forgetting).",
            "golatkar2020eternal",
            defaults={**_SGD, "epochs": 5, "lr": 0.02, "weight_decay": 5e-4, "batch_size": 64},
            needs_forget=False,
        ),
        MethodInfo(
            "neggrad",
            "Gradient ascent on the forget set (NegGrad / GA), stopped early.",
            "golatkar2020eternal",
            defaults={
                **_SGD,
                "epochs": 5,
                "lr": 1e-4,
                "weight_decay": 5e-4,
                "batch_size": 256,
                "target_forget_acc": "auto",
            },  # fmt: skip
            needs_retain=False,
        ),
        MethodInfo(
            "zero_output",
            "Zero the output-layer row and bias of each forgotten class (naive baseline).",
            "",  # the notebooks Lethe started from; no paper
            defaults={},
            needs_forget=False,
            needs_retain=False,
            class_only=True,
        ),
        # --- impair-repair family: unsir, usifr, dnf ---
        # --- forgetting neural networks: fnn ---
        # --- forget-data-only and teacher-student: pbu, bad_teaching, neggrad_plus ---
    )
}


def method_info(name: str) -> MethodInfo:
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(METHODS)}") from None


def merge_params(name: str, overrides: dict | None, train_recipe: dict | None = None) -> dict:
    """Defaults of method ``name`` updated by ``overrides``; unknown keys are an error.

    ``retrain`` takes the training recipe (``train_recipe``) as its parameters, so that
    the gold standard is trained exactly like the original model.
    """
    info = method_info(name)
    defaults = dict(train_recipe or {}) if name == "retrain" else dict(info.defaults)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        where = "train" if name == "retrain" else f"method_params.{name}"
        raise ValueError(
            f"config key {where}: unknown parameter(s) {unknown} for method {name!r}; known: {sorted(defaults)}"
        )
    defaults.update(overrides)
    return defaults
