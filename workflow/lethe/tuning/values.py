"""Tuned hyperparameters as an artefact: where they live, how they are read, how they enter a run.

Torch-free (the plan reads shipped values while the workflow is parsed).

A method's hyperparameters come from one of three *sources* (config key ``tuning``):

* ``defaults``: the catalogue's, the paper's values (:mod:`lethe.methods.catalog`);
* ``tuned``: the values a real search found, shipped with the repository as
  ``{folder}/{dataset}/{arch}/{method}-{kind}.yaml`` (``folder`` is ``config/tuned`` unless
  set), read when the workflow is parsed;
* ``search``: the workflow runs the search itself (rule ``tune``, :mod:`lethe.tuning.search`) and
  writes :data:`RESULT`; the runs of that method read it when they start.

In all three, hand-written ``method_params`` win: the search does not search a key the config
fixes, and a shipped value of such a key is overridden. One search per dataset, architecture,
method and forget-set *kind* (``classes``, ``random_classes``, ``random_samples``): the values
serve every forget set of that kind.

A tuned file is YAML: ``best`` (the chosen values), ``objective``, ``gap`` (pp) and, for random
samples, ``loss_shift`` (:mod:`lethe.tuning.search`'s objective and its terms), ``trials``
(the number), ``time_fraction``, ``seed``, ``forget_set``, ``space`` and the trial log
(``history``); see :func:`record`. To ship the values of a search, copy
``results/tuned/DATASET/ARCH/`` to ``config/tuned/DATASET/ARCH/``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

SOURCES = ("defaults", "tuned", "search")
RESULT = "results/tuned/{dataset}/{arch}/{method}-{kind}.yaml"  # rule tune's output
STUDIES = "results/tuned/{dataset}/{arch}/studies"  # Optuna's SQLite files: kept when a job fails, so it resumes
DEFAULT_FOLDER = "config/tuned"


def shipped_path(folder: str | Path, dataset: str, arch: str, method: str, kind: str) -> Path:
    return Path(folder) / dataset / arch / f"{method}-{kind}.yaml"


def read(path: str | Path, method: str, defaults: dict) -> dict:
    """A tuned file, checked: a mapping whose ``best`` names hyperparameters of ``method``.

    ``defaults``: the method's parameters, to check the names against. Errors name the file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ValueError(f"tuned values {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"tuned values {path}: not YAML ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("best"), dict):
        raise ValueError(f"tuned values {path}: expected a mapping with a `best` mapping of hyperparameters")
    if data.get("method", method) != method:
        raise ValueError(f"tuned values {path}: written for method {data['method']!r}, not {method!r}")
    unknown = sorted(set(data["best"]) - set(defaults))
    if unknown:
        raise ValueError(
            f"tuned values {path}: {unknown} are not hyperparameters of {method!r} ({sorted(defaults)}); "
            f"rerun the search (tuning.source: search) or remove the file"
        )
    return data


def apply(params: dict, best: dict, fixed: dict) -> dict:
    """A run's hyperparameters: ``params`` (defaults merged with the config), the tuned ``best``
    values over them, and the hand-written ``fixed`` ones (method_params) over those."""
    return {**params, **best, **fixed}


def with_search(params: dict, path: str | Path | None, method: str) -> dict:
    """A searched method's run: ``params`` (known at parse time, method_params included) with the
    search's ``best`` values from rule tune's ``path`` (which never holds a key method_params fixes);
    ``params`` alone when ``path`` is None."""
    if path is None:
        return params
    return {**params, **read(path, method, params)["best"]}


def record(result: dict, *, dataset: str, arch: str, kind: str, trials: int, time_fraction: float) -> dict:
    """The YAML a search writes, from :func:`lethe.tuning.search`'s result (plain types only)."""
    return {
        "method": result["method"],
        "dataset": dataset,
        "arch": arch,
        "kind": kind,
        "forget_set": result["forget_set"],
        "seed": result["seed"],
        "trials": trials,
        "time_fraction": time_fraction,
        "best": result["best"],
        "objective": result["objective"],
        "gap": result["gap"],
        "loss_shift": result["loss_shift"],
        "feasible": result["feasible"],
        "best_seconds": result["best_seconds"],
        "retrain_seconds": result["retrain_seconds"],
        "time_budget_seconds": result["time_budget_seconds"],
        "wall_seconds": result["wall_seconds"],
        "fixed": result["fixed"],
        "space": result["space"],
        "retrain_terms": result["retrain_terms"],
        "original_terms": result["original_terms"],
        "history": result["trials"],
    }
