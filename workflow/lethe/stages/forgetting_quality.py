"""Rule forgetting_quality: a method's population against retrain's (lethe.metrics.quality),
written as a metrics JSON that the aggregate reads beside the evaluation's."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from lethe.io import write_json
from lethe.metrics.quality import population_metrics
from lethe.populations.artefacts import load_population

log = logging.getLogger(__name__)


def forgetting_quality(
    method_paths: tuple[str | Path, str | Path],
    retrain_paths: tuple[str | Path, str | Path],
    out: str | Path,
    shadow_paths: tuple[str | Path, str | Path] | None = None,
) -> dict:
    """F, the challenge's score and U-LiRA of one population against retrain's; ``*_paths`` are
    (npz, record), ``shadow_paths`` the method's population from the shadow originals (U-LiRA
    as Hayes et al. define it; for a method that starts from no original, its one population)."""
    started = time.perf_counter()
    unlearned, retrained = load_population(*method_paths), load_population(*retrain_paths)
    shadow = load_population(*shadow_paths) if shadow_paths is not None else None
    rec, ref = unlearned["record"], retrained["record"]
    if (rec["dataset"], rec["arch"], rec["seed"], rec["forget_set"]) != (
        ref["dataset"], ref["arch"], ref["seed"], ref["forget_set"]
    ):  # fmt: skip
        raise ValueError(f"forgetting_quality: {method_paths[1]} and {retrain_paths[1]} are not the same scenario")
    metrics = population_metrics(unlearned, retrained, seed=int(rec["seed"]), shadow=shadow)
    # The models that changed no weight of their start (a no-op looks like retraining on a model that barely
    # memorises): the tables mark such a population. Absent from records written before it was counted.
    for key, population in (("population_unchanged_models", unlearned), ("population_shadow_unchanged_models", shadow)):
        count = None if population is None else population["record"].get("unchanged_models")
        if count is not None:
            metrics[key] = int(count)
    if shadow is not None:
        metrics["population_shadow_models"] = int(shadow["record"]["models"])
    result = {
        **{key: rec[key] for key in ("method", "dataset", "arch", "seed", "forget_set", "forget_set_name",
                                     "forget_kind", "forget_classes", "forget_size")},
        "metrics": metrics,
        "population": {"models": rec["models"], "retrains": ref["models"], "deterministic": rec["deterministic"],
                       "shadow": None if shadow is None else shadow["record"]["originals"],
                       "unlearn_seconds": rec["seconds"], "retrain_seconds": ref["seconds"]},
        "quality_seconds": time.perf_counter() - started,
    }  # fmt: skip
    write_json(out, result)
    log.info("%s on %s: F %.3f, score %.3f, U-LiRA accuracy %.3f (shadow originals), %.3f (original known); %d models",
             rec["method"], rec["forget_set"], metrics["fq_F"], metrics["fq_score"], metrics.get("ulira_acc", math.nan),
             metrics["ulira_known_acc"], rec["models"])  # fmt: skip
    return result


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    forgetting_quality(
        (job.input.npz, job.input.record),
        (job.input.retrain_npz, job.input.retrain_record),
        job.output[0],
        shadow_paths=(job.input.shadow_npz, job.input.shadow_record) if job.input.get("shadow_npz") else None,
    )
