"""Forget sets: which training samples (and classes) a model must forget.

Three kinds, configured under ``forget_sets`` in the config:

* ``classes``: explicit class ids, e.g. ``{kind: classes, classes: [3]}``;
* ``random_classes``: ``k`` classes drawn at random, ``draws`` times, from ``seed``;
  each draw is its own forget set ``{name}-{draw}`` (the impair–repair paper averages
  over 5 subsets each of 2, 3 and 6 classes);
* ``random_samples``: a random ``fraction`` or ``count`` of the training samples, drawn from
  ``seed``; with ``per_seed: true`` each of the config's seeds gets its own draw, forget set
  ``{name}-{seed}``, run only with that seed's models (so the spread over seeds includes the
  draw's), otherwise one draw ``{name}`` serves every seed.

Expansion of names is torch-free (the Snakefile uses it at parse time); materialising a
forget set needs only NumPy.
"""

from __future__ import annotations

import re

import numpy as np

KINDS = ("classes", "random_classes", "random_samples")
NAME_PATTERN = r"[A-Za-z0-9_]+"
ID_PATTERN = rf"{NAME_PATTERN}(-[0-9]+)?"


def expand_forget_sets(specs: dict[str, dict], seeds=()) -> dict[str, tuple[str, int | None]]:
    """Map every concrete forget-set id to (config name, draw index or None); a ``per_seed``
    random-sample forget set has one draw per seed of ``seeds``, its index the seed."""
    ids: dict[str, tuple[str, int | None]] = {}
    for name, spec in specs.items():
        if not re.fullmatch(NAME_PATTERN, name):
            raise ValueError(f"forget_sets.{name}: names may use letters, digits and _ only")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ValueError(f"forget_sets.{name}.kind must be one of {KINDS}, got {kind!r}")
        if kind == "random_classes":
            for draw in range(int(spec["draws"])):
                ids[f"{name}-{draw}"] = (name, draw)
        elif kind == "random_samples" and spec.get("per_seed", False):
            for seed in seeds:
                ids[f"{name}-{int(seed)}"] = (name, int(seed))
        else:
            ids[name] = (name, None)
    return ids


def split_id(forget_set_id: str) -> tuple[str, int | None]:
    """``two-3`` → (``two``, 3); ``class3`` → (``class3``, None)."""
    match = re.fullmatch(rf"({NAME_PATTERN})(?:-([0-9]+))?", forget_set_id)
    if match is None:
        raise ValueError(f"not a forget-set id: {forget_set_id!r}")
    draw = match.group(2)
    return match.group(1), None if draw is None else int(draw)


def make_forget_set(forget_set_id: str, spec: dict, y_train: np.ndarray, num_classes: int, dataset: str) -> dict:
    """Materialise one forget set: its classes (if any) and its training indices."""
    name, draw = split_id(forget_set_id)
    kind = spec["kind"]
    y_train = np.asarray(y_train)
    classes: list[int] | None
    if kind == "classes":
        classes = sorted(int(c) for c in spec["classes"])
        bad = [c for c in classes if not 0 <= c < num_classes]
        if bad:
            raise ValueError(
                f"forget_sets.{name}.classes: {bad} out of range for {dataset} "
                f"({num_classes} classes, ids 0..{num_classes - 1})"
            )
    elif kind == "random_classes":
        k = int(spec["k"])
        if not 0 < k < num_classes:
            raise ValueError(f"forget_sets.{name}.k={k} must be in 1..{num_classes - 1} for {dataset}")
        if draw is None:
            raise ValueError(f"forget set {name} of kind random_classes needs a draw index: {name}-0")
        # One generator per (seed, draw): draw i is the same whatever the draw count.
        rng = np.random.default_rng([int(spec.get("seed", 0)), draw])
        classes = sorted(int(c) for c in rng.choice(num_classes, size=k, replace=False))
    elif kind == "random_samples":
        classes = None
    else:
        raise ValueError(f"forget_sets.{name}.kind must be one of {KINDS}, got {kind!r}")

    if classes is not None:
        indices = np.flatnonzero(np.isin(y_train, classes))
    else:
        n = len(y_train)
        if "count" in spec:
            count = int(spec["count"])
        else:
            count = int(round(float(spec["fraction"]) * n))
        if not 0 < count < n:
            raise ValueError(f"forget_sets.{name}: {count} samples out of {n} is not a proper subset")
        if spec.get("per_seed", False):
            if draw is None:
                raise ValueError(f"forget set {name} is drawn per seed: its ids name the seed, e.g. {name}-0")
            rng = np.random.default_rng([int(spec.get("seed", 0)), draw])  # the draw of model seed `draw`
        else:
            rng = np.random.default_rng(int(spec.get("seed", 0)))
        indices = np.sort(rng.choice(n, size=count, replace=False))
    return {
        "id": forget_set_id,
        "name": name,
        "draw": draw,
        "kind": kind,
        "dataset": dataset,
        "classes": classes,
        "num_classes_forgotten": None if classes is None else len(classes),
        "indices": [int(i) for i in indices],
        "size": int(len(indices)),
        "spec": spec,
    }


def retain_indices(forget: dict, n_train: int) -> np.ndarray:
    """Training indices not in the forget set."""
    keep = np.ones(n_train, dtype=bool)
    keep[np.asarray(forget["indices"], dtype=np.int64)] = False
    return np.flatnonzero(keep)
