"""The plan tests' config (tests/unit/test_plan.py, test_tuning_values.py, test_timm_models.py)."""

from __future__ import annotations

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
