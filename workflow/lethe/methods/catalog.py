"""The method registry's catalogue: names, defaults and data needs (torch-free).

The Snakefile reads this module at parse time to merge each method's defaults with the
config's overrides (one ``params`` entry per method, so that changing one
hyperparameter reruns that method's jobs only). The implementation of method ``m``
lives in ``lethe/methods/{m}.py`` as a function ``unlearn(model, data, params, ctx)``.

This catalogue is the one place that describes a method; the rest is derived from it
and checked by ``tests/unit/test_catalogues.py``: the method tables of docs/methods-overview.md and
config/README.md and the reference docs/methods.md (``lethe docs``), the paper's methods
section (a subsection per family of ``FAMILIES`` with the paragraph
``paper/methods/{m}.tex`` of each method run), its citations (``citation`` must be a key
of paper/references.bib, cited by that paragraph), the table rows' order and the
figures' colours. Adding a method: its module (whose docstring is its reference), an
entry here, its paragraph, its test module, and its name in the default configs' method
lists; then ``lethe docs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lethe.tuning.space import choice, integer, log_float, uniform


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
    # The forget-set kinds its paper evaluates (SCOPES), where it is narrower than what the method
    # accepts: runs outside them are labelled in the tables as outside the paper's setting. None: no narrowing.
    paper_scope: tuple[str, ...] | None = None
    # What the tuning stage searches (lethe.tuning.search): hyperparameter -> lethe.tuning.space.Dimension;
    # empty for a method with nothing to tune (retrain, zero_output, SISA's training recipe).
    search_space: dict = field(default_factory=dict)
    family: str = "other"  # the paper groups methods by family (see FAMILIES)
    # The checkpoint the method starts from, results/models/{dataset}/{arch}/seed{seed}/{original}.safetensors:
    # the pipeline's original, or a model of the method's own that its own rule trains (SISA's sharded ensemble).
    original: str = "original"
    # The parameters (keys of ``defaults``) that shape that own original, which its rule depends on;
    # None: all of them (SISA's training is its parameters).
    original_keys: tuple[str, ...] | None = None
    # What the defaults follow (a paper, its code or notebook), in a few words: the defaults
    # table of config/README.md (lethe.docs).
    source: str = ""
    # The test module (tests/methods/NAME.py) that checks the method; "" for test_{name}.
    tests: str = ""
    # What exact unlearning means for the method, the model its unlearned one should be
    # indistinguishable from (a key of GOLD_STANDARDS): the plain retrain for most; for a method
    # whose own training differs from the original's (SISA's ensemble, ERM-KTP's masked original),
    # its own training repeated on D_r. The pipeline builds only "retrain" (BUILT_GOLD_STANDARDS):
    # a row judged against another has no verdict against retrain in the tables (judged_against_retrain).
    gold_standard: str = "retrain"

    @property
    def test_module(self) -> str:
        return self.tests or f"test_{self.name}"


# Paper sections, in order: family key -> heading.
FAMILIES = {
    "baseline": "Exact and naive baselines",
    "finetuning": "Fine-tuning and gradient ascent",
    "impair_repair": "Noise: impair and repair",
    "teacher": "Teacher and student",
    "forgetting_layers": "Forgetting layers",
    "forget_only": "Forget data only",
    "relabel": "Relabelling, saliency and sparsity",
    "boundary": "Decision boundary",
    "importance": "Parameter importance and second order",
    "other": "Other methods",
}

_SGD = {"optimizer": "sgd", "momentum": 0.9}
# EU-k and CF-k (Goel et al.'s scripts): the same recipe and entry but for their epochs (62 and 30).
_LAST_LAYERS_RECIPE = {
    "lr": 0.1,
    "min_lr_fraction": 0.05,
    "weight_decay": 5e-5,
    "batch_size": 64,
    "max_grad_norm": 10.0,
}
_LAST_LAYERS = {
    "needs_forget": False,
    "family": "finetuning",
    "source": "Goel et al. code (`methods.py`, CIFAR-10 scripts)",
    "tests": "test_last_layers",
    "search_space": {"k": integer(1, 5), "lr": log_float(1e-3, 1e-1), "epochs": integer(1, 10)},
}
# Forget-set kinds a paper's evaluation can cover (MethodInfo.paper_scope; lethe.report.latex reads it).
SCOPES = {"one_class": "a single class", "classes": "several classes", "random_samples": "random samples"}


def scenario_scope(forget_kind: str, n_forget_classes: int) -> str:
    """The SCOPES key of a scenario: its forget-set kind, a single class told apart from several."""
    if forget_kind == "random_samples":
        return "random_samples"
    return "one_class" if int(n_forget_classes) == 1 else "classes"


def outside_paper_scope(method: str, forget_kind: str, n_forget_classes: int) -> bool:
    """Whether ``method`` runs on a kind of forget set its paper does not evaluate."""
    info = METHODS.get(method)
    return bool(info and info.paper_scope) and scenario_scope(forget_kind, n_forget_classes) not in info.paper_scope


# What exact unlearning means, per MethodInfo.gold_standard: key -> a description for captions and docs.
GOLD_STANDARDS = {
    "retrain": "the network retrained from scratch on D_r with the original's recipe",
    "sisa_retrain": "SISA trained from scratch on D_r with the same seed, shards and slices",
    "erm_ktp_retrain": "ERM-KTP's masked original retrained from scratch on D_r with the same recipe and seed",
}
# The gold standards the pipeline builds (the retrain rule and its population); the others are described only.
BUILT_GOLD_STANDARDS = ("retrain",)


def gold_standard(method: str) -> str:
    """The GOLD_STANDARDS key method ``method`` is to be judged against ("retrain" for the original row)."""
    return "retrain" if method == "original" else method_info(method).gold_standard


def judged_against_retrain(method: str) -> bool:
    """Whether a verdict of ``method`` against the retrained model (the gap, JS to retrain, the paired tests,
    F, Score, U-LiRA, closest to retrain) is a verdict on its unlearning: its gold standard is one the
    pipeline builds. False for SISA and ERM-KTP, whose own gold standard is not built: compared with the
    plain retrain, the attack and the distances see the method's own training (an ensemble, a masked
    original), not its unlearning; the original row (a reference) is True."""
    return gold_standard(method) in BUILT_GOLD_STANDARDS


RETRAINS = ("retrain", "retrain_twin")  # trained with the config's recipe (`train`), not method_params

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
            family="baseline",
            source="the original model's recipe (`train`)",
            tests="test_methods",
        ),
        MethodInfo(
            "retrain_twin",
            "Retrain again from an independent seed: the noise floor of every distance to retrain.",
            "cao2015towards",
            defaults={},  # the workflow passes the config's training recipe
            needs_forget=False,
            needs_original=False,
            family="baseline",
            source="the original model's recipe (`train`), seed `derived_seed(seed, 1)`",
            tests="test_methods",
        ),
        MethodInfo(
            "finetune",
            "Fine-tune the original model on the retain set (catastrophic forgetting).",
            "golatkar2020eternal",
            defaults={**_SGD, "epochs": 5, "lr": 0.02, "weight_decay": 5e-4, "batch_size": 64},
            needs_forget=False,
            family="finetuning",
            source="SSD code's FT",
            tests="test_methods",
            search_space={"lr": log_float(1e-3, 1e-1), "epochs": integer(1, 10)},
        ),
        MethodInfo(
            "eu_k",
            "Reinitialise the last k layers and train only them on the retain set (EU-k, exact for those layers).",
            "goel2022towards",
            defaults={**_SGD, "k": 1, "epochs": 62, **_LAST_LAYERS_RECIPE},
            **_LAST_LAYERS,
        ),
        MethodInfo(
            "cf_k",
            "Fine-tune only the last k layers on the retain set, the rest frozen (CF-k, catastrophic forgetting).",
            "goel2022towards",
            defaults={**_SGD, "k": 1, "epochs": 30, **_LAST_LAYERS_RECIPE},
            **_LAST_LAYERS,
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
                "collapse_share": 0.8,
                "check_every": 1,
                "max_retained_drop": 0.1,
            },
            needs_retain=False,
            family="finetuning",
            source="Unlearn-Sparse `GA.py`; the early stop and the ascent guard are Lethe's",
            tests="test_methods",
            search_space={
                "lr": log_float(1e-5, 1e-1),
                "epochs": integer(1, 10),
                "batch_size": choice(32, 64, 128, 256),
            },
        ),
        MethodInfo(
            "zero_output",
            "Zero the output-layer row and bias of each forgotten class (naive baseline).",
            "",  # the notebooks Lethe started from; no paper
            defaults={},
            needs_forget=False,
            needs_retain=False,
            class_only=True,
            family="baseline",
            source="the original notebooks",
            tests="test_methods",
        ),
        # --- impair-repair family: unsir, usifr, dnf ---
        MethodInfo(
            "unsir",
            "Error-maximising noise per forget class, impair on noise + retain subset, repair (UNSIR).",
            "tarun2023fast",
            defaults={
                "noise_batch": 256,
                "noise_steps": 40,
                "noise_lr": 0.1,
                "noise_l2": 0.1,
                "noise_copies": 20,
                "retain_per_class": 1000,
                "batch_size": 256,
                "optimizer": "adam",
                "impair_lr": 0.02,
                "impair_epochs": 1,
                "repair_lr": 0.01,
                "repair_epochs": 1,
            },
            needs_forget=False,
            class_only=True,
            family="impair_repair",
            source="UNSIR notebook",
            tests="test_impair_repair",
            search_space={
                "impair_lr": log_float(1e-4, 1e-1),
                "repair_lr": log_float(1e-4, 1e-1),
                "repair_epochs": integer(1, 5),
            },
        ),
        MethodInfo(
            "usifr",
            "One mixed error-maximising noise batch for all forget classes, then impair and repair (USI(F)R).",
            "fastaccurate_classmu",
            defaults={
                "noise_batch": 250,
                "noise_per_class": False,
                "noise_steps": 40,
                "noise_lr": 0.1,
                "noise_l2": 0.1,
                "noise_copies": 1,
                "retain_samples": 1000,
                "batch_size": 250,
                "optimizer": "adam",
                "impair_lr": 0.02,
                "impair_epochs": 1,
                "repair_lr": 0.01,
                "repair_epochs": 1,
            },
            needs_forget=False,
            class_only=True,
            family="impair_repair",
            source="impair–repair paper (noise loop as UNSIR's)",
            tests="test_impair_repair",
            search_space={
                "impair_lr": log_float(1e-4, 1e-1),
                "repair_lr": log_float(1e-4, 1e-1),
                "repair_epochs": integer(1, 5),
            },
        ),
        MethodInfo(
            "dnf",
            "Impair with drawn N(0,1) noise labelled as the forget classes, then repair (DNF).",
            "fastaccurate_classmu",
            defaults={
                "noise_batch": 250,
                "noise_per_class": False,
                "noise_copies": 1,
                "retain_samples": 1000,
                "batch_size": 250,
                "optimizer": "adam",
                "impair_lr": 0.02,
                "impair_epochs": 1,
                "repair_lr": 0.01,
                "repair_epochs": 1,
            },
            needs_forget=False,
            class_only=True,
            family="impair_repair",
            source="impair–repair paper (reading unverified)",
            tests="test_impair_repair",
            search_space={
                "impair_lr": log_float(1e-4, 1e-1),
                "repair_lr": log_float(1e-4, 1e-1),
                "repair_epochs": integer(1, 5),
            },
        ),
        MethodInfo(
            "erm_ktp",
            "From an original trained with class masks: a student with the forgotten classes' features and rows cut "
            "from a frozen head learns the teacher's other features on D_r (ERM-KTP).",
            "lin2023ermktp",
            defaults={
                # the ERM original (rule train_erm, lethe.methodkit.class_masks.ERM_KEYS)
                "mask_init": 0.5,
                "mask_lr": 0.1,
                "mask_period": 3,
                "mask_phase": 2,
                "mask_weight": 1e-3,
                "sparsity_target": 0.1,
                "entanglement_weight": 0.1,
                # knowledge transfer
                "student_init": "random",
                "optimizer": "sgd",
                "lr": 0.1,
                "momentum": 0.9,
                "weight_decay": 5e-4,
                "epochs": 30,
                "lr_decay_epochs": [16, 26],
                "lr_decay_rate": 0.1,
                "batch_size": 256,
            },
            needs_forget=False,  # the forgotten class ids only: prohibition is structural
            class_only=True,
            family="teacher",
            original="erm_original",
            gold_standard="erm_ktp_retrain",
            original_keys=(
                "mask_init",
                "mask_lr",
                "mask_period",
                "mask_phase",
                "mask_weight",
                "sparsity_target",
                "entanglement_weight",
            ),
            source="ERM-KTP code (`train_ERM.py`, `KTP.py`); epochs Lethe's",
            search_space={"lr": log_float(1e-3, 1e-1), "epochs": integer(1, 30)},
        ),
        # --- forgetting neural networks: fnn ---
        MethodInfo(
            "fnn",
            "Forgetting layers h·exp(−t/τ) with τ ranked on D_f; learning–unlearning turns on D_r (FNN).",
            "hatua2024forgetting",
            defaults={
                "layers": "2L",
                "scheme": "rank",
                "tau": 5.0,
                "tau_min": 1.0,
                "tau_max": 10.0,
                "tau_rest": 1e6,
                "top_k": 30,
                "turns": 5,
                "learn_epochs": 2,
                "unlearn_epochs": 4,
                "reset_t_each_turn": True,
                "optimizer": "adam",
                "lr": 1e-3,
                "momentum": 0.9,
                "weight_decay": 0.0,
                "batch_size": 32,
                "early_stop": True,
                "acc_threshold": 0.95,
                "mia_tolerance": 0.1,
                "accept_on": "validation",
                "mia_samples": 1000,
                "mia_attack": "rf",
                "fold": True,
            },
            needs_forget=True,  # D_f only ranks the neurons and is the MIA's target; never trained on
            needs_retain=True,
            family="forgetting_layers",
            source="FNN paper (training recipe Lethe's)",
            search_space={"lr": log_float(1e-4, 1e-2), "tau": log_float(1.0, 50.0), "turns": integer(1, 5)},
        ),
        # --- forget-data-only and teacher-student: pbu, bad_teaching, neggrad_plus ---
        MethodInfo(
            "pbu",
            "Lower the forget data's likelihood, held near θ* by a Fisher (on D_f) and an L2 penalty; no retain data (PBU).",
            "panda2025pbu",
            defaults={
                "epochs": 5,
                "lr": 1e-4,
                "batch_size": 64,
                "alpha": 631.0,
                "beta": 100.0,
                "gamma": 4001.0,
                "fisher": "expected",
                "target_forget_acc": "auto",
                "collapse_share": 0.8,
                "check_every": 1,
            },
            needs_retain=False,
            family="forget_only",
            paper_scope=("one_class",),  # the paper forgets one class at a time
            source="PBU notebook; the ascent guard is Lethe's",
            search_space={"lr": log_float(1e-5, 1e-2), "epochs": integer(1, 20), "alpha": log_float(10.0, 5000.0)},
        ),
        MethodInfo(
            "bad_teaching",
            "Distil a random-init teacher on D_f and θ* on 30% of D_r into the student (Bad Teaching).",
            "chundawat2023bad",
            defaults={"epochs": 1, "lr": 1e-4, "batch_size": 256, "temperature": 1.0, "retain_fraction": 0.3},
            family="teacher",
            source="Bad Teaching code",
            search_space={"lr": log_float(1e-5, 1e-2), "epochs": integer(1, 5), "temperature": choice(1.0, 2.0, 4.0)},
        ),
        MethodInfo(
            "neggrad_plus",
            "Descend on a D_r batch and ascend on a cycled D_f batch in each step (NegGrad+).",
            "kurmanji2023towards",
            defaults={
                "alpha": 0.95,
                "epochs": 10,
                "optimizer": "sgd",
                "lr": 0.01,
                "momentum": 0.0,
                "weight_decay": 0.0,
                "batch_size": 128,
                "forget_batch_size": 64,
                "target_forget_acc": None,
                "collapse_share": 0.8,
                "check_every": 10,
                "max_retained_drop": 0.1,
            },
            family="finetuning",
            source="SCRUB small-scale notebook; the ascent guard is Lethe's",
            search_space={
                "alpha": choice(0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999),
                "lr": log_float(1e-4, 1e-1),
                "epochs": integer(1, 10),
            },
        ),
        # --- exact: sisa ---
        MethodInfo(
            "sisa",
            "Retrain only the shards holding forgotten samples, from the checkpoint before their first slice (SISA).",
            "bourtoule2021sisa",
            defaults={
                "shards": 5,
                "slices": 4,
                "epochs": 20,
                "batch_size": 16,
                "optimizer": "sgd",
                "lr": 1e-3,
                "momentum": 0.0,
                "weight_decay": 0.0,
                "aggregation": "mean",
            },
            needs_forget=False,  # the forgotten indices are those D_r lacks; SISA never sees the forget images
            family="baseline",
            original="sisa_original",
            gold_standard="sisa_retrain",
            source="SISA code `sisa.py` (slices and mean aggregation Lethe's)",
        ),
        # --- relabel and distillation: scrub, salun, l1_sparse, random_label ---
        MethodInfo(
            "scrub",
            "Student leaves the teacher θ* on D_f (max-steps, first msteps epochs) and follows it on D_r (SCRUB).",
            "kurmanji2023towards",
            defaults={
                "optimizer": "adam",
                "lr": 5e-4,
                "momentum": 0.9,
                "weight_decay": 0.1,
                "epochs": 10,
                "msteps": 3,
                "temperature": 2.0,
                "gamma": 1.0,
                "alpha": 0.5,
                "lr_decay_epochs": [5, 8, 9],
                "lr_decay_rate": 0.1,
                "batch_size": 32,
                "forget_batch_size": 64,
            },
            family="teacher",
            source="SCRUB small-scale notebook",
            search_space={"lr": log_float(1e-5, 1e-2), "msteps": integer(1, 10)},
        ),
        MethodInfo(
            "scrub_r",
            "SCRUB, then rewind to the epoch whose D_f error is closest to the final model's error on held-out data like D_f (SCRUB+R).",
            "kurmanji2023towards",
            defaults={
                "optimizer": "sgd",
                "lr": 5e-4,
                "momentum": 0.9,
                "weight_decay": 5e-4,
                "epochs": 5,
                "msteps": 3,
                "temperature": 4.0,
                "gamma": 1.0,
                "alpha": 0.5,
                "lr_decay_epochs": [3, 5, 9],
                "lr_decay_rate": 0.1,
                "batch_size": 32,
                "forget_batch_size": 16,
            },
            family="teacher",
            paper_scope=("random_samples",),  # the rewind is the paper's variant for forgetting samples (privacy)
            source="SCRUB code `MIA_experiments.ipynb`",
            search_space={"lr": log_float(1e-5, 1e-2), "msteps": integer(1, 10), "epochs": integer(2, 10)},
        ),
        MethodInfo(
            "salun",
            "Random labels on D_f and fine-tuning on D_r, updating only the 50% of weights most salient for D_f (SalUn).",
            "fan2024salun",
            defaults={
                "mask_ratio": 0.5,
                "optimizer": "sgd",
                "lr": 0.013,
                "momentum": 0.9,
                "weight_decay": 5e-4,
                "epochs": 10,
                "batch_size": 256,
            },
            family="relabel",
            source="SalUn code (`generate_mask.py`, `RL.py`)",
            search_space={"lr": log_float(1e-3, 1e-1), "mask_ratio": uniform(0.1, 0.9), "epochs": integer(1, 10)},
        ),
        MethodInfo(
            "l1_sparse",
            "Fine-tune on D_r with an ℓ1 penalty on the weights that decays linearly to zero (ℓ1-sparse).",
            "jia2023sparse",
            defaults={
                "gamma": 1e-4,
                "optimizer": "sgd",
                "lr": 0.01,
                "momentum": 0.9,
                "weight_decay": 5e-4,
                "epochs": 10,
                "batch_size": 256,
            },
            needs_forget=False,
            family="relabel",
            source="Unlearn-Sparse `FT_l1`",
            search_space={"gamma": log_float(1e-5, 1e-1), "lr": log_float(1e-3, 1e-1), "epochs": integer(1, 10)},
        ),
        MethodInfo(
            "random_label",
            "Train on D_f relabelled with random wrong classes together with D_r (random labelling / Amnesiac).",
            "graves2021amnesiac",
            defaults={
                "exclude_true": True,
                "optimizer": "adam",
                "lr": 1e-4,
                "momentum": 0.9,
                "weight_decay": 0.0,
                "epochs": 3,
                "batch_size": 256,
            },
            family="relabel",
            source="Bad Teaching / SSD code",
            search_space={"lr": log_float(1e-5, 1e-2), "epochs": integer(1, 5)},
        ),
        # --- importance and second order: ssd, fisher_forget, influence ---
        MethodInfo(
            "ssd",
            "Dampen weights whose importance to D_f exceeds α times their importance to D (SSD); no training.",
            "foster2024fast",
            defaults={"alpha": 10.0, "lambda": 1.0, "batch_size": 64, "d_order": "shuffled"},
            family="importance",
            source="SSD code",
            search_space={"alpha": log_float(1.0, 1000.0), "lambda": log_float(0.1, 10.0)},
        ),
        MethodInfo(
            "fisher_forget",
            "Replace θ* by a sample of N(θ*, α·F_r⁻¹), Fisher F_r on D_r; forget-class head rows zeroed (Fisher forgetting).",
            "golatkar2020eternal",
            defaults={"alpha": 1e-6, "fisher": "expected", "retain_samples": None, "batch_size": 64},
            needs_forget=False,  # the forget class ids only; the Fisher is computed on D_r
            family="importance",
            source="Golatkar et al. code (`hessian`)",
            search_space={"alpha": log_float(1e-9, 1e-4)},
        ),
        MethodInfo(
            "influence",
            "One Newton-like step θ* + α·F⁻¹v, v the forget-minus-retain gradient, F a WoodFisher on D_r (IU).",
            "jia2023sparse",
            defaults={
                "alpha": 0.2,
                "damping": 1.0,
                "hessian_samples": 1000,
                "batch_size": 128,
                "gradient_memory_mb": 2048,
            },
            family="importance",
            source="Unlearn-Sparse `Wfisher.py`",
            search_space={"alpha": log_float(0.1, 100.0)},
        ),
        # --- decision boundary: boundary_shrink, boundary_expand ---
        MethodInfo(
            "boundary_shrink",
            "Relabel D_f to the nearest-but-incorrect class found by FGSM on θ*, fine-tune on it (Boundary Shrink).",
            "chen2023boundary",
            defaults={
                **_SGD,
                "lr": 1e-5,
                "weight_decay": 0.0,
                "epochs": 10,
                "batch_size": 64,
                "bound": 0.1,
                "drop_failed": False,
            },
            needs_retain=False,
            family="boundary",
            source="Boundary Unlearning code",
            tests="test_boundary",
            search_space={"lr": log_float(1e-5, 1e-2), "bound": uniform(0.05, 0.5), "epochs": integer(1, 10)},
        ),
        MethodInfo(
            "boundary_expand",
            "Widen the head by a shadow class, fine-tune D_f into it, then prune the shadow row (Boundary Expanding).",
            "chen2023boundary",
            defaults={**_SGD, "lr": 1e-5, "weight_decay": 0.0, "epochs": 10, "batch_size": 64},
            needs_retain=False,
            family="boundary",
            source="Boundary Unlearning code",
            tests="test_boundary",
            search_space={"lr": log_float(1e-5, 1e-2), "epochs": integer(1, 10)},
        ),
    )
}


def method_info(name: str) -> MethodInfo:
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(METHODS)}") from None


def original_params(name: str, params: dict) -> dict:
    """The part of method ``name``'s merged ``params`` that its own original's rule depends on."""
    keys = method_info(name).original_keys
    return dict(params) if keys is None else {key: params[key] for key in keys}


def merge_params(name: str, overrides: dict | None, train_recipe: dict | None = None) -> dict:
    """Defaults of method ``name`` updated by ``overrides``; unknown keys are an error.

    ``retrain`` takes the training recipe (``train_recipe``) as its parameters, so that
    the gold standard is trained exactly like the original model.
    """
    info = method_info(name)
    defaults = dict(train_recipe or {}) if name in RETRAINS else dict(info.defaults)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        where = "train" if name in RETRAINS else f"method_params.{name}"
        raise ValueError(
            f"config key {where}: unknown parameter(s) {unknown} for method {name!r}; known: {sorted(defaults)}"
        )
    defaults.update(overrides)
    return defaults
