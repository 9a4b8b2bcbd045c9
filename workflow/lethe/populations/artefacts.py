"""The files of the populations, read back: LiRA's reference scores (rule train_reference),
the shadow originals (rule train_shadow) and a population's arrays (rules population and
population_shadow), each checked against the sha256 that its record holds.

The stages that consume them (evaluate, population, forgetting_quality) import this module
only, not the trainers, so that editing how these models are trained reruns the jobs that
train them and no others.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from lethe.io import read_checked, read_json

POPULATION_ARRAYS = ("phi", "acc_forget", "acc_retain", "acc_test_retained")


def load_reference(scores_path: str | Path, meta_path: str | Path) -> dict:
    """The reference scores (``phi``, ``in_mask``, ``n_train``), checked against the sidecar's sha256."""
    meta = read_json(meta_path)
    data = read_checked(scores_path, meta.get("scores_sha256"), meta_path, "rule train_reference writes it")
    with np.load(io.BytesIO(data)) as arrays:
        return {"phi": arrays["phi"], "in_mask": arrays["in_mask"], "n_train": int(arrays["n_train"])}


def load_shadows(models_path: str | Path, meta_path: str | Path) -> tuple[dict, dict]:
    """The stacked weights and the sidecar, the weights checked against the sidecar's sha256."""
    meta = read_json(meta_path)
    read_checked(models_path, meta.get("models_sha256"), meta_path, "rule train_shadow writes it")
    return load_file(str(models_path)), meta


def load_population(npz_path: str | Path, record_path: str | Path) -> dict:
    """A population's arrays and record, the npz checked against the sha256 its record holds."""
    record = read_json(record_path)
    data = read_checked(npz_path, record.get("npz_sha256"), record_path, "rule population writes it")
    with np.load(io.BytesIO(data)) as arrays:
        out = {key: arrays[key] for key in POPULATION_ARRAYS}
    return {**out, "deterministic": bool(record["deterministic"]), "record": record}
