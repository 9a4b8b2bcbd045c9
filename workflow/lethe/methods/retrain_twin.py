"""Retrain twin: the retrained gold standard again, from an independent seed.

Exactly :mod:`lethe.methods.retrain` (same architecture, retain set and recipe) but
initialised and shuffled from ``derived_seed(seed, 1)`` instead of the run's seed. It is
not an unlearning method: evaluated against retrain like every method, it gives each
distance-to-retrain metric (the gaps, JS to retrain, every "closest to retrain" column)
its noise floor, the value that two exact unlearnings differ by. A method within that
floor of retrain cannot be told from retraining by that metric.
"""

from __future__ import annotations

from lethe.data.augment import black
from lethe.device import prepare_model
from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.passes import train_with
from lethe.models.registry import Classifier, build_model
from lethe.seeds import derived_seed

TWIN_STREAM = 1  # lethe.seeds stream of the twin's seed


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    seed = derived_seed(ctx.seed, TWIN_STREAM)
    fresh = prepare_model(build_model(ctx.arch, data.shape, data.num_classes, seed=seed), ctx.device, ctx.memory_format)
    train_with(fresh, data.retain, params, ctx, "retrain twin", seed=seed, augment_fill=black(data.mean, data.std))
    ctx.notes["seed"] = seed
    return fresh
