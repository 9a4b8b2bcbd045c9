"""Which source each method's hyperparameters come from, and what that asks of the workflow.

A config's ``tuning`` key picks a source per method and forget-set kind (:mod:`.values`
describes the three: the catalogue's defaults, shipped tuned values, or a search the
workflow runs). :class:`Tuning` reads it against the plan: the sources, the search spaces
less the keys ``method_params`` fixes, the forget set each search runs on, the searches the
runs need (rule tune's jobs) and the shipped files they read, which are read now, while the
workflow is parsed. Errors name the key or file. Torch-free.
"""

from __future__ import annotations

from lethe.data.forget_sets import KINDS
from lethe.methods.catalog import METHODS
from lethe.plan.paths import ORIGINAL
from lethe.tuning import values as tuned


class Tuning:
    """The config's ``tuning`` key read against a plan (:class:`lethe.plan.experiment.Plan`): ``spec``
    is the key with its defaults."""

    def __init__(self, plan) -> None:
        """Each method's source of hyperparameters, the tuning forget sets, and the shipped values
        of every (dataset, arch, method, kind) that runs with ``tuned``; errors name the key or file."""
        self.plan = plan
        spec = {
            "source": "defaults",
            "per_method": {},
            "per_kind": {},
            "seed": 100,
            "folder": tuned.DEFAULT_FOLDER,
            **(plan.config.get("tuning") or {}),
        }
        self.spec = spec
        self._all_fixed: set[str] = set()  # searched by the source, but method_params fix every searched key
        self._tuning_sets: dict[str, tuple[str, str, dict]] = {}  # forget-set kind -> (id, name, spec)
        unknown = sorted(set(spec["per_method"]) - set(METHODS))
        if unknown:
            raise ValueError(f"config key tuning.per_method: unknown method(s) {unknown}; known: {sorted(METHODS)}")
        for method, source in spec["per_method"].items():
            if source != "defaults" and not METHODS[method].search_space:
                raise ValueError(
                    f"config key tuning.per_method.{method}: {method} has no search space (nothing to tune); "
                    f"use defaults"
                )
        plan.warnings += [
            f"tuning.per_method.{method} is set but {method} is not run; ignored"
            for method in spec["per_method"]
            if method not in plan.methods
        ]
        unknown = sorted(set(spec["per_kind"]) - set(KINDS))
        if unknown:
            raise ValueError(f"config key tuning.per_kind: unknown forget-set kind(s) {unknown}; known: {list(KINDS)}")
        self._kinds: dict[str, list[str]] = {}  # method -> the forget-set kinds it runs on
        for run in plan.runs():
            if run.method in METHODS:
                kinds = self._kinds.setdefault(run.method, [])
                kind = plan.forget_spec(run.forget_set)["kind"]
                if kind not in kinds:
                    kinds.append(kind)
        self._spaces = {}
        for method in plan.methods:
            if "search" not in self.sources(method).values():
                continue
            fixed = set(plan.config["method_params"].get(method) or {})
            space = {k: v for k, v in METHODS[method].search_space.items() if k not in fixed}
            if not space and method not in spec["per_method"]:
                self._all_fixed.add(method)
                plan.warnings.append(
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
            if seed in plan.seeds:
                raise ValueError(
                    f"config key tuning.seed: {seed} is one of the reported seeds {plan.seeds}; a search must not "
                    f"see the runs it is judged on, so pick another (default 100)"
                )
            for name, fs in plan.config["forget_sets"].items():
                if fs["kind"] == "random_classes" and seed < int(fs["draws"]):
                    raise ValueError(
                        f"config key tuning.seed: {seed} is a draw index of forget set {name} (draws 0..{fs['draws'] - 1}); "
                        f"the tuning draw must differ from every reported one, so pick a seed of at least {fs['draws']}"
                    )
        for kind in KINDS:
            name = next(
                (plan.forget_sets[fs][0] for fs in plan.forget_set_ids if plan.forget_spec(fs)["kind"] == kind),
                None,
            )
            if name is None:
                continue
            fs_spec = dict(plan.config["forget_sets"][name])
            if kind == "classes":
                fs_id = name
            else:
                fs_id = f"{name}-{seed}"
                if kind == "random_samples":
                    fs_spec["per_seed"] = True  # the draw of the tuning seed, whatever the reported runs use
            self._tuning_sets[kind] = (fs_id, name, fs_spec)
        self._shipped = {}
        for run in plan.runs():
            if run.method == ORIGINAL:
                continue
            kind = plan.forget_spec(run.forget_set)["kind"]
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
            self._shipped[key] = tuned.read(path, run.method, plan.params[run.method])

    def source(self, method: str, kind: str | None = None) -> str:
        """Where ``method``'s hyperparameters come from on forget sets of ``kind``: defaults, tuned
        (shipped) or search; ``tuning.per_method`` wins over ``tuning.per_kind``, which wins over
        ``tuning.source``. Without ``kind``: the source where no per_kind entry applies."""
        if not METHODS[method].search_space or method in self._all_fixed:
            return "defaults"
        if method in self.spec["per_method"]:
            return self.spec["per_method"][method]
        if kind is not None and kind in self.spec["per_kind"]:
            return self.spec["per_kind"][kind]
        return self.spec["source"]

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
        for run in [*self.plan.runs(), *self.plan.population_runs()]:
            kind = self.plan.forget_spec(run.forget_set)["kind"]
            if run.method in METHODS and self.source(run.method, kind) == "search":
                jobs.append((run.dataset, run.arch, run.method, kind))
        return list(dict.fromkeys(jobs))  # in first-seen order, once each

    def tuned_files(self) -> list[str]:
        """Every tuned file the runs read (rule tune's outputs and shipped files), for the paper."""
        files = []
        for run in [*self.plan.runs(), *self.plan.population_runs()]:
            if run.method in METHODS:
                path = self.tuned_file(run.dataset, run.arch, run.method, run.forget_set)
                if path is not None:
                    files.append(path)
        return list(dict.fromkeys(files))

    def tuned_file(self, dataset: str, arch: str, method: str, forget_set: str) -> str | None:
        """The tuned file a run of ``method`` reads: rule tune's output (search), the shipped one (tuned), or None."""
        kind = self.plan.forget_spec(forget_set)["kind"]
        source = self.source(method, kind)
        if source == "search":
            return tuned.RESULT.format(dataset=dataset, arch=arch, method=method, kind=kind)
        if source == "tuned":
            return str(tuned.shipped_path(self.spec["folder"], dataset, arch, method, kind))
        return None

    def forget_spec(self, forget_set: str) -> dict | None:
        """The spec of a search's forget set (:meth:`tuning_forget_set`); None for any other id."""
        for fs_id, _, spec in self._tuning_sets.values():
            if fs_id == forget_set:
                return spec
        return None

    def shipped_best(self, method: str, dataset: str, arch: str, kind: str) -> dict | None:
        """The shipped values a run of ``method`` on a forget set of ``kind`` starts from; None unless its source is tuned."""
        if self.source(method, kind) != "tuned":
            return None
        return self._shipped[(dataset, arch, method, kind)]["best"]
