"""Rule make_forget_set: one forget set (its classes and training indices) as JSON."""

from __future__ import annotations

import logging
from pathlib import Path

from lethe.data.datasets import load_prepared
from lethe.data.forget_sets import make_forget_set as draw_forget_set
from lethe.io import write_json

log = logging.getLogger(__name__)


def make_forget_set(
    npz_path: str | Path, manifest_path: str | Path, forget_set_id: str, spec: dict, out: str | Path
) -> dict:
    manifest, arrays = load_prepared(npz_path, manifest_path)
    y_train = arrays["y_train"]
    record = draw_forget_set(forget_set_id, spec, y_train, int(manifest["num_classes"]), manifest["name"])
    write_json(out, record)
    log.info("forget set %s: %d training samples, classes %s", forget_set_id, record["size"], record["classes"])
    return record


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    make_forget_set(*job.dataset, job.wildcards.forget_set, job.params.spec, job.output[0])
