"""The experiment plan: every (dataset, arch, seed, forget set, method) the config asks for.

A config is one or more *studies*, each a cross product datasets × archs × seeds ×
forget sets × methods. Without a ``studies`` key the config is one implicit study, the
cross product of its top-level lists. With ``studies``, the top-level lists name
everything the config uses, each study picks a subset of them (``methods`` and ``seeds``
default to all), and the plan is the union of the studies' cross products: no job is
built for a combination that no study asks for (20-class forget sets only where a
100-class dataset runs, say).

Torch-free: the Snakefile builds its targets and wildcard constraints from here.
Configuration errors are raised here, at parse time, naming the bad key.
"""

from __future__ import annotations

from dataclasses import dataclass

from lethe.data.catalog import DATASETS, DatasetInfo, dataset_info
from lethe.data.forget_sets import ID_PATTERN, KINDS, expand_forget_sets
from lethe.data.imagefolder import imagefolder_infos, with_defaults
from lethe.methods.catalog import METHODS, merge_params, method_info
from lethe.models.catalog import ARCH_CONSTRAINT, arch_problem
from lethe.plan.paths import ORIGINAL, POPULATION_BASELINES
from lethe.tuning import values as tuned
from lethe.tuning.settings import Tuning

# The keys of a study: each names entries of the top-level key of the same name (for
# forget_sets, of its mapping). Optional ones default to the whole top-level list.
STUDY_KEYS = ("datasets", "archs", "seeds", "forget_sets", "methods")
OPTIONAL_STUDY_KEYS = ("seeds", "methods")


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


@dataclass(frozen=True)
class Study:
    """One cross product of the plan; ``forget_sets`` holds forget-set names as configured
    (a ``random_classes`` name stands for all its draws)."""

    name: str
    datasets: tuple[str, ...]
    archs: tuple[str, ...]
    seeds: tuple[int, ...]
    forget_sets: tuple[str, ...]
    methods: tuple[str, ...]


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


def _first_seen(items) -> list:
    return list(dict.fromkeys(items))


class Plan:
    """Expanded view of a validated config."""

    def __init__(self, config: dict):
        self.config = config
        self.forget_sets = expand_forget_sets(config["forget_sets"], config["seeds"])
        for method in config["methods"]:
            method_info(method)  # unknown method: KeyError naming it
        # The built-in datasets and the config's image folders (lethe.data.imagefolder; their class
        # folders are listed now, for the class counts).
        user, folder_warnings = imagefolder_infos(config.get("imagefolders") or {}, config["datasets"])
        self.dataset_infos: dict[str, DatasetInfo] = {**DATASETS, **user}
        unknown = [name for name in config["datasets"] if name not in self.dataset_infos]
        if unknown:
            raise ValueError(f"config key datasets: unknown {unknown}; known: {list(self.dataset_infos)}")
        for arch in config["archs"]:  # a built-in name or timm-NAME (timm's models exist: lethe.models.catalog)
            problem = arch_problem(arch)
            if problem is not None:
                raise ValueError(f"config key archs: {problem}")
        unknown = sorted(set(config["method_params"]) - set(METHODS))
        if unknown:
            raise ValueError(f"config key method_params: unknown method(s) {unknown}; known: {sorted(METHODS)}")
        models = int((config.get("population") or {}).get("models", 0))
        if 0 < models < 4:
            raise ValueError(
                f"config key population.models: {models} runs are too few (U-LiRA fits on one half of each "
                f"population and needs 2 models a side); use 0 (no populations) or an even number of at least 4"
            )
        self.params = {m: merge_params(m, config["method_params"].get(m), config["train"]) for m in METHODS}
        self.has_studies = bool(config.get("studies"))
        self.studies = self._read_studies()
        for study in self.studies.values():
            self._check_classes_fit(study)
        self._runs = self._expand()
        if self.has_studies:
            self._check_all_used()
        self.warnings = [
            f"method_params.{method} is set but {method} is not run (not in methods"
            f"{' of any study' if self.has_studies else ''}); its parameters are ignored"
            for method in config["method_params"]
            if method not in self.methods
        ] + folder_warnings
        self.tuning = Tuning(self)  # each method's source of hyperparameters (lethe.tuning.settings)

    def method_params(self, method: str, dataset: str, arch: str, forget_set: str) -> dict:
        """The hyperparameters known when the workflow is parsed: defaults merged with the config, with
        shipped tuned values (method_params still win). A searched method's runs add rule tune's values
        when they start (lethe.tuning.values.apply); a search never sets a key that method_params fixes."""
        params = self.params[method]
        best = self.tuning.shipped_best(method, dataset, arch, self.forget_spec(forget_set)["kind"])
        if best is None:
            return params
        return tuned.apply(params, best, self.config["method_params"].get(method) or {})

    # ------------------------------------------------------------------ studies

    def _read_studies(self) -> dict[str, Study]:
        """The studies of the config; without ``studies``, one study: the top-level cross product."""
        top = {key: list(self.config[key]) for key in STUDY_KEYS}
        if not self.has_studies:
            return {"": Study("", *(tuple(top[key]) for key in STUDY_KEYS))}
        studies = {}
        for name, spec in self.config["studies"].items():
            where = f"studies.{name}"
            if not isinstance(spec, dict):
                raise ValueError(f"config key {where}: expected a mapping of {list(STUDY_KEYS)}, got {spec!r}")
            unknown = sorted(set(spec) - set(STUDY_KEYS))
            if unknown:
                raise ValueError(f"config key {where}: unknown key(s) {unknown}; known: {list(STUDY_KEYS)}")
            values = {}
            for key in STUDY_KEYS:
                if key not in spec:
                    if key not in OPTIONAL_STUDY_KEYS:
                        raise ValueError(f"config key {where}.{key} is required (names from the top-level {key})")
                    values[key] = tuple(top[key])
                    continue
                chosen = list(spec[key])
                if not chosen:
                    raise ValueError(f"config key {where}.{key} is empty")
                bad = [item for item in chosen if item not in top[key]]
                if bad:
                    raise ValueError(
                        f"config key {where}.{key}: {bad} not in the top-level {key} {top[key]}; "
                        f"a study picks from the top-level lists, so add them there"
                    )
                values[key] = tuple(_first_seen(chosen))
            studies[name] = Study(name, *(values[key] for key in STUDY_KEYS))
        return studies

    def _check_classes_fit(self, study: Study) -> None:
        """Forget sets whose classes a dataset of the study does not have (checkable here: class counts)."""
        where = f"studies.{study.name}" if self.has_studies else "forget_sets"
        for name in study.forget_sets:
            spec = self.config["forget_sets"][name]
            for dataset in study.datasets:
                n = self.dataset_infos[dataset].num_classes
                if spec["kind"] == "classes" and any(not 0 <= int(c) < n for c in spec["classes"]):
                    raise ValueError(
                        f"config key {where}: forget set {name} (classes {spec['classes']}) does not fit "
                        f"dataset {dataset} ({n} classes, ids 0..{n - 1})"
                    )
                if spec["kind"] == "classes" and len(set(spec["classes"])) >= n:
                    raise ValueError(
                        f"config key {where}: forget set {name} (classes {spec['classes']}) forgets every class "
                        f"of dataset {dataset} ({n} classes): nothing would be retained; leave at least one out"
                    )
                if spec["kind"] == "random_classes" and not 0 < int(spec["k"]) < n:
                    raise ValueError(
                        f"config key {where}: forget set {name} (k={spec['k']} random classes) does not fit "
                        f"dataset {dataset} ({n} classes; k must be 1..{n - 1})"
                    )

    def _check_all_used(self) -> None:
        """With studies, every top-level entry belongs to a study (a default left in place is an error)."""
        used = {
            "datasets": set(self.datasets),
            "archs": set(self.archs),
            "seeds": set(self.seeds),
            "forget_sets": {self.forget_sets[fs][0] for fs in self.forget_set_ids},
            "methods": set(self.methods),
        }
        for key in STUDY_KEYS:
            unused = [item for item in self.config[key] if item not in used[key]]
            if unused:
                raise ValueError(
                    f"config key {key}: {unused} in no study (studies {list(self.studies)}); "
                    f"remove them or add them to a study's {key}"
                )

    def study_forget_set_ids(self, study: Study) -> list[str]:
        """The concrete forget-set ids of ``study`` (random_classes names expanded to their draws)."""
        return [fs for fs, (name, _) in self.forget_sets.items() if name in study.forget_sets]

    # ------------------------------------------------------------------ runs

    def forget_spec(self, forget_set: str) -> dict:
        """The config's spec of a forget set of the runs, or of a search's (the tuning seed's draw)."""
        if forget_set not in self.forget_sets:
            spec = self.tuning.forget_spec(forget_set)
            if spec is not None:
                return spec
            raise KeyError(f"forget set {forget_set!r} is not in the plan")
        name, _ = self.forget_sets[forget_set]
        return self.config["forget_sets"][name]

    def applies(self, method: str, forget_set: str) -> bool:
        """Whether ``method`` is defined for this forget set (class-only methods skip random samples)."""
        if method == ORIGINAL:
            return True
        kind = self.forget_spec(forget_set)["kind"]
        return not (method_info(method).class_only and kind == "random_samples")

    def drawn_for(self, forget_set: str, seed: int) -> bool:
        """Whether ``forget_set`` runs with ``seed``: a per-seed draw only with its own seed."""
        spec = self.forget_spec(forget_set)
        return not (spec["kind"] == "random_samples" and spec.get("per_seed", False)) or (
            self.forget_sets[forget_set][1] == seed
        )

    def _expand(self) -> list[Run]:
        """The union of the studies' cross products, each run once, in order of first appearance."""
        runs = (
            Run(dataset, arch, seed, forget_set, method)
            for study in self.studies.values()
            for dataset in study.datasets
            for arch in study.archs
            for seed in study.seeds
            for forget_set in self.study_forget_set_ids(study)
            if self.drawn_for(forget_set, seed)
            for method in [ORIGINAL, *study.methods]
            if self.applies(method, forget_set)
        )
        return _first_seen(runs)

    def runs(self) -> list[Run]:
        return list(self._runs)

    def population_runs(self) -> list[Run]:
        """The runs that get a population (rule population): every method's run on the first
        ``population.seeds`` seeds, and retrain's and retrain_twin's on each such scenario;
        none when ``population.models`` is 0."""
        spec = self.config.get("population") or {}
        if not spec.get("models"):
            return []
        seeds = set(self.seeds[: int(spec.get("seeds", 1))])
        runs = []
        for run in self._runs:
            if run.seed not in seeds:
                continue
            if run.method == ORIGINAL:
                runs += [Run(run.dataset, run.arch, run.seed, run.forget_set, m) for m in POPULATION_BASELINES]
            else:
                runs.append(run)
        return _first_seen(runs)

    def shadow_runs(self) -> list[Run]:
        """The populations also drawn from the shadow originals (rule population_shadow): with
        ``population.shadow``, those of methods that start from the pipeline's original (not
        retrain and its twin, which start from none, nor SISA, which starts from its own)."""
        if not (self.config.get("population") or {}).get("shadow", False):
            return []
        return [
            run
            for run in self.population_runs()
            if method_info(run.method).needs_original and METHODS[run.method].original == "original"
        ]

    def quality_runs(self) -> list[Run]:
        """The populations compared with retrain's (rule forgetting_quality): all but retrain's own."""
        return [run for run in self.population_runs() if run.method != "retrain"]

    # ------------------------------------------------------------------ what the runs use
    # In the order of the top-level lists; without studies, exactly those lists.

    def _used(self, key: str, values: set) -> list:
        return [item for item in self.config[key] if item in values]

    @property
    def datasets(self) -> list[str]:
        return self._used("datasets", {r.dataset for r in self._runs})

    @property
    def archs(self) -> list[str]:
        return self._used("archs", {r.arch for r in self._runs})

    @property
    def seeds(self) -> list[int]:
        return self._used("seeds", {r.seed for r in self._runs})

    @property
    def methods(self) -> list[str]:
        """The methods some study names (a class-only method stays listed where it applies to no forget set)."""
        return self._used("methods", {m for study in self.studies.values() for m in study.methods})

    @property
    def forget_set_ids(self) -> list[str]:
        used = {r.forget_set for r in self._runs}
        return [fs for fs in self.forget_sets if fs in used]

    def models(self) -> list[tuple[str, str, int]]:
        """(dataset, arch, seed) of every original model to train, in the order of the top-level lists."""
        used = {(r.dataset, r.arch, r.seed) for r in self._runs}
        return [(d, a, s) for d in self.datasets for a in self.archs for s in self.seeds if (d, a, s) in used]

    def dataset_forget_sets(self) -> list[tuple[str, str]]:
        """(dataset, forget-set id) of every forget set to materialise, dataset by dataset."""
        used = {(r.dataset, r.forget_set) for r in self._runs}
        return [(d, fs) for d in self.datasets for fs in self.forget_set_ids if (d, fs) in used]

    def dataset_info(self, name: str) -> DatasetInfo:
        """A dataset's class count and shape: built-in, or an image folder of the config."""
        return dataset_info(name, self.dataset_infos)

    def imagefolder(self, name: str) -> dict | None:
        """The spec of image folder ``name`` (config key ``imagefolders``, defaults filled in), or
        None for a built-in dataset."""
        spec = (self.config.get("imagefolders") or {}).get(name)
        return None if spec is None else with_defaults(spec)

    def setup_config(self) -> dict:
        """What the paper's setup section reports: the plan's lists, the recipe, the title,
        and with studies each study's lists (forget sets by configured name)."""
        config = {
            "datasets": self.datasets,
            "archs": self.archs,
            "seeds": self.seeds,
            "train": self.config["train"],
            "methods": self.methods,
            "method_params": self.config["method_params"],  # which values were picked by hand (search spaces)
            "tuning": {
                "sources": {m: self.tuning.sources(m) for m in self.methods},
                **{k: self.tuning.spec[k] for k in ("trials", "time_fraction", "seed") if k in self.tuning.spec},
            },
            "paper": self.config["paper"],
        }
        if self.has_studies:
            config["studies"] = {
                name: {key: list(getattr(study, key)) for key in STUDY_KEYS} for name, study in self.studies.items()
            }
        return config

    def wildcard_constraints(self) -> dict[str, str]:
        return {
            "dataset": "|".join(self.dataset_infos),
            "arch": ARCH_CONSTRAINT,
            "seed": r"\d+",
            "forget_set": ID_PATTERN,
            "method": "|".join(METHODS),
            "evaluated": "|".join([ORIGINAL, *METHODS]),
            "kind": "|".join(KINDS),
        }
