"""Retrain: the gold standard of exact unlearning.

A fresh model (same architecture, initialised from the run's seed) trained on the
retain set with exactly the recipe of the original model. Every other method's time is
reported as a ratio to this one's.
"""

from __future__ import annotations

from lethe.data.augment import black
from lethe.device import prepare_model
from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.passes import train_with
from lethe.models.registry import Classifier, build_model


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    fresh = prepare_model(
        build_model(ctx.arch, data.shape, data.num_classes, seed=ctx.seed), ctx.device, ctx.memory_format
    )
    train_with(fresh, data.retain, params, ctx, "retrain", augment_fill=black(data.mean, data.std))
    return fresh
