"""The experiment plan: every (dataset, arch, seed, forget set, method) the config asks for.

Torch-free: the Snakefile builds its targets and wildcard constraints from here.
Configuration errors are raised here, at parse time, naming the bad key.
"""

from __future__ import annotations

from dataclasses import dataclass

from lethe.data.catalog import DATASETS
from lethe.data.forget_sets import ID_PATTERN, expand_forget_sets
from lethe.methods.catalog import METHODS, merge_params, method_info
from lethe.models.catalog import ARCHITECTURE_NAMES

REFERENCE = "original"  # evaluated like a method, but it is the model before unlearning


@dataclass(frozen=True)
class Run:
    dataset: str
    arch: str
    seed: int
    forget_set: str
    method: str

    @property
    def wildcards(self) -> dict:
        return {
            "dataset": self.dataset,
            "arch": self.arch,
            "seed": self.seed,
            "forget_set": self.forget_set,
            "method": self.method,
        }


def canonical(value):
    """``value`` with every mapping's keys sorted, recursively.

    Snakemake's params trigger compares parameters as written, so without this,
    reordering keys in a config file would rerun every job.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


class Plan:
    """Expanded view of a validated config."""

    def __init__(self, config: dict):
        self.config = config
        self.forget_sets = expand_forget_sets(config["forget_sets"])
        for method in config["methods"]:
            method_info(method)  # unknown method: KeyError naming it
        unknown = sorted(set(config["method_params"]) - set(METHODS))
        if unknown:
            raise ValueError(f"config key method_params: unknown method(s) {unknown}; known: {sorted(METHODS)}")
        self.params = {m: merge_params(m, config["method_params"].get(m), config["train"]) for m in METHODS}

    def forget_spec(self, forget_set: str) -> dict:
        name, _ = self.forget_sets[forget_set]
        return self.config["forget_sets"][name]

    def applies(self, method: str, forget_set: str) -> bool:
        """Whether ``method`` is defined for this forget set (class-only methods skip random samples)."""
        if method == REFERENCE:
            return True
        kind = self.forget_spec(forget_set)["kind"]
        return not (method_info(method).class_only and kind == "random_samples")

    def runs(self) -> list[Run]:
        return [
            Run(dataset, arch, seed, forget_set, method)
            for dataset in self.config["datasets"]
            for arch in self.config["archs"]
            for seed in self.config["seeds"]
            for forget_set in self.forget_sets
            for method in [REFERENCE, *self.config["methods"]]
            if self.applies(method, forget_set)
        ]

    def wildcard_constraints(self) -> dict[str, str]:
        return {
            "dataset": "|".join(DATASETS),
            "arch": "|".join(ARCHITECTURE_NAMES),
            "seed": r"\d+",
            "forget_set": ID_PATTERN,
            "method": "|".join(METHODS),
            "evaluated": "|".join([REFERENCE, *METHODS]),
        }
