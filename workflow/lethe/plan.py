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

from lethe import tuned
from lethe.data.catalog import DATASETS, DatasetInfo, dataset_info
from lethe.data.forget_sets import ID_PATTERN, KINDS, expand_forget_sets
from lethe.data.imagefolder import imagefolder_infos, with_defaults
from lethe.methods.catalog import METHODS, merge_params, method_info
from lethe.models.catalog import ARCH_CONSTRAINT, arch_problem

REFERENCE = "original"  # evaluated like a method, but it is the model before unlearning
# The keys of a study: each names entries of the top-level key of the same name (for
# forget_sets, of its mapping). Optional ones default to the whole top-level list.
STUDY_KEYS = ("datasets", "archs", "seeds", "forget_sets", "methods")
OPTIONAL_STUDY_KEYS = ("seeds", "methods")


# Where a run's files live (data, models and metrics are shared by every config).
MODELS = "results/models/{dataset}/{arch}/seed{seed}"
METRICS = "results/metrics/{dataset}/{arch}/seed{seed}/{forget_set}/{evaluated}.json"
REFERENCES = "results/reference/{dataset}/{arch}/seed{seed}"  # rule train_reference (lethe.reference)
POPULATIONS = "results/population/{dataset}/{arch}/seed{seed}/{forget_set}"  # rule population (lethe.population)
SHADOWS = "results/shadow/{dataset}/{arch}/seed{seed}"  # rule train_shadow (lethe.shadow)
# Populations drawn for every scenario that has any: retrain's (what every population is compared with)
# and retrain_twin's (the null: retrain against retrain).
POPULATION_REFERENCES = ("retrain", "retrain_twin")


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
        self._tuning_sets: dict[str, tuple[str, str, dict]] = {}  # forget-set kind -> (id, name, spec); _read_tuning
        self._all_fixed: set[str] = set()  # searched by tuning.source, but method_params fix every searched key
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
        self._read_tuning()

    # ------------------------------------------------------------------ hyperparameters (lethe.tuned)

    def _read_tuning(self) -> None:
        """Each method's source of hyperparameters, the tuning forget sets, and the shipped values
        of every (dataset, arch, method, kind) that runs with ``tuned``; errors name the key or file."""
        spec = {
            "source": "defaults",
            "per_method": {},
            "per_kind": {},
            "seed": 100,
            "folder": tuned.DEFAULT_FOLDER,
            **(self.config.get("tuning") or {}),
        }
        self.tuning = spec
        unknown = sorted(set(spec["per_method"]) - set(METHODS))
        if unknown:
            raise ValueError(f"config key tuning.per_method: unknown method(s) {unknown}; known: {sorted(METHODS)}")
        for method, source in spec["per_method"].items():
            if source != "defaults" and not METHODS[method].search_space:
                raise ValueError(
                    f"config key tuning.per_method.{method}: {method} has no search space (nothing to tune); "
                    f"use defaults"
                )
        self.warnings += [
            f"tuning.per_method.{method} is set but {method} is not run; ignored"
            for method in spec["per_method"]
            if method not in self.methods
        ]
        unknown = sorted(set(spec["per_kind"]) - set(KINDS))
        if unknown:
            raise ValueError(f"config key tuning.per_kind: unknown forget-set kind(s) {unknown}; known: {list(KINDS)}")
        self._kinds: dict[str, list[str]] = {}  # method -> the forget-set kinds it runs on
        for run in self._runs:
            if run.method in METHODS:
                kinds = self._kinds.setdefault(run.method, [])
                kind = self.forget_spec(run.forget_set)["kind"]
                if kind not in kinds:
                    kinds.append(kind)
        self._spaces = {}
        for method in self.methods:
            if "search" not in self.sources(method).values():
                continue
            fixed = set(self.config["method_params"].get(method) or {})
            space = {k: v for k, v in METHODS[method].search_space.items() if k not in fixed}
            if not space and method not in spec["per_method"]:
                self._all_fixed.add(method)
                self.warnings.append(
                    f"method_params.{method} fixes every hyperparameter the search would tune "
                    f"({sorted(METHODS[method].search_space)}): {method} is not searched and runs with them"
                )
                continue
            if not space:
                raise ValueError(
                    f"config key method_params.{method} fixes every hyperparameter that the search would tune "
                    f"({sorted(METHODS[method].search_space)}): nothing is left to search; remove them from "
                    f"method_params.{method} or set tuning.per_method.{method}: defaults"
                )
            self._spaces[method] = space
        seed = int(spec["seed"])
        if self._spaces:
            if seed in self.seeds:
                raise ValueError(
                    f"config key tuning.seed: {seed} is one of the reported seeds {self.seeds}; a search must not "
                    f"see the runs it is judged on, so pick another (default 100)"
                )
            for name, fs in self.config["forget_sets"].items():
                if fs["kind"] == "random_classes" and seed < int(fs["draws"]):
                    raise ValueError(
                        f"config key tuning.seed: {seed} is a draw index of forget set {name} (draws 0..{fs['draws'] - 1}); "
                        f"the tuning draw must differ from every reported one, so pick a seed of at least {fs['draws']}"
                    )
        for kind in KINDS:
            name = next(
                (self.forget_sets[fs][0] for fs in self.forget_set_ids if self.forget_spec(fs)["kind"] == kind), None
            )
            if name is None:
                continue
            fs_spec = dict(self.config["forget_sets"][name])
            if kind == "classes":
                fs_id = name
            else:
                fs_id = f"{name}-{seed}"
                if kind == "random_samples":
                    fs_spec["per_seed"] = True  # the draw of the tuning seed, whatever the reported runs use
            self._tuning_sets[kind] = (fs_id, name, fs_spec)
        self._shipped = {}
        for run in self._runs:
            if run.method == REFERENCE:
                continue
            kind = self.forget_spec(run.forget_set)["kind"]
            if self.source(run.method, kind) != "tuned":
                continue
            key = (run.dataset, run.arch, run.method, kind)
            if key in self._shipped:
                continue
            path = tuned.shipped_path(spec["folder"], *key)
            if not path.exists():
                raise ValueError(
                    f"config key tuning: {run.method} runs with tuned values, and {path} does not exist (no search "
                    f"shipped for {run.dataset}/{run.arch}, {kind} forgetting); set tuning.per_method.{run.method} "
                    f"or tuning.per_kind.{kind} to search (run the search) or defaults"
                )
            self._shipped[key] = tuned.read(path, run.method, self.params[run.method])

    def source(self, method: str, kind: str | None = None) -> str:
        """Where ``method``'s hyperparameters come from on forget sets of ``kind``: defaults, tuned
        (shipped) or search; ``tuning.per_method`` wins over ``tuning.per_kind``, which wins over
        ``tuning.source``. Without ``kind``: the source where no per_kind entry applies."""
        if not METHODS[method].search_space or method in self._all_fixed:
            return "defaults"
        if method in self.tuning["per_method"]:
            return self.tuning["per_method"][method]
        if kind is not None and kind in self.tuning["per_kind"]:
            return self.tuning["per_kind"][kind]
        return self.tuning["source"]

    def sources(self, method: str) -> dict[str, str]:
        """{kind: source} over the forget-set kinds ``method`` runs on (:meth:`source`)."""
        return {kind: self.source(method, kind) for kind in self._kinds.get(method, [])}

    def search_space(self, method: str) -> dict:
        """What rule tune searches for ``method``: the catalogue's space less the keys method_params fixes."""
        return self._spaces[method]

    def tuning_forget_set(self, kind: str) -> str:
        """The forget set a search of ``kind`` runs on: the first configured forget set of that kind, on the
        tuning seed's draw (random kinds; a fixed class list is the scenario itself, on the tuning seed's models)."""
        return self._tuning_sets[kind][0]

    def tune_jobs(self) -> list[tuple[str, str, str, str]]:
        """(dataset, arch, method, kind) of every search (rule tune) the runs need."""
        jobs = []
        for run in [*self._runs, *self.population_runs()]:
            kind = self.forget_spec(run.forget_set)["kind"]
            if run.method in METHODS and self.source(run.method, kind) == "search":
                jobs.append((run.dataset, run.arch, run.method, kind))
        return _first_seen(jobs)

    def tuned_files(self) -> list[str]:
        """Every tuned file the runs read (rule tune's outputs and shipped files), for the paper."""
        files = []
        for run in [*self._runs, *self.population_runs()]:
            if run.method in METHODS:
                path = self.tuned_file(run.dataset, run.arch, run.method, run.forget_set)
                if path is not None:
                    files.append(path)
        return _first_seen(files)

    def tuned_file(self, dataset: str, arch: str, method: str, forget_set: str) -> str | None:
        """The tuned file a run of ``method`` reads: rule tune's output (search), the shipped one (tuned), or None."""
        kind = self.forget_spec(forget_set)["kind"]
        source = self.source(method, kind)
        if source == "search":
            return tuned.RESULT.format(dataset=dataset, arch=arch, method=method, kind=kind)
        if source == "tuned":
            return str(tuned.shipped_path(self.tuning["folder"], dataset, arch, method, kind))
        return None

    def method_params(self, method: str, dataset: str, arch: str, forget_set: str) -> dict:
        """The hyperparameters known when the workflow is parsed: defaults merged with the config, with
        shipped tuned values (method_params still win). A searched method's runs add rule tune's values
        when they start (lethe.tuned.apply); a search never sets a key that method_params fixes."""
        params = self.params[method]
        kind = self.forget_spec(forget_set)["kind"]
        if self.source(method, kind) != "tuned":
            return params
        best = self._shipped[(dataset, arch, method, kind)]["best"]
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
        if forget_set not in self.forget_sets:
            for fs_id, _, spec in self._tuning_sets.values():
                if fs_id == forget_set:
                    return spec
            raise KeyError(f"forget set {forget_set!r} is not in the plan")
        name, _ = self.forget_sets[forget_set]
        return self.config["forget_sets"][name]

    def applies(self, method: str, forget_set: str) -> bool:
        """Whether ``method`` is defined for this forget set (class-only methods skip random samples)."""
        if method == REFERENCE:
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
            for method in [REFERENCE, *study.methods]
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
            if run.method == REFERENCE:
                runs += [Run(run.dataset, run.arch, run.seed, run.forget_set, m) for m in POPULATION_REFERENCES]
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
            run for run in self.population_runs()
            if method_info(run.method).needs_original and METHODS[run.method].original == "original"
        ]  # fmt: skip

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
        return [
            (d, a, s) for d in self.datasets for a in self.archs for s in self.seeds if (d, a, s) in used
        ]  # fmt: skip

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
                "sources": {m: self.sources(m) for m in self.methods},
                **{k: self.tuning[k] for k in ("trials", "time_fraction", "seed") if k in self.tuning},
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
            "evaluated": "|".join([REFERENCE, *METHODS]),
            "kind": "|".join(KINDS),
        }
