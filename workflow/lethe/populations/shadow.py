"""Shadow originals: N models trained exactly as the original is (the config's recipe, the whole
training set) from N independent seeds, for U-LiRA as Hayes et al. (2024) define it: each
method is applied to a different original in each run of its population
(:mod:`lethe.populations.runs`), so the attacker who tells unlearned from retrained models does not
know which original a model came from.

Model i is ``build_model(arch, ..., seed=s_i)`` trained by :func:`lethe.train.fit`'s recipe
with ``seed=s_i``, ``s_i = derived_seed(seed, STREAM, i)``. Where the architecture has no
batch normalisation the N models train together (:func:`lethe.populations.reference.train_batched`, every
model's "half" being the whole training set), equal to one at a time up to floating-point
reassociation (tested for the reference models); other architectures train one at a time.
The weights are kept stacked ({name: N×...}); :func:`shadow_model` rebuilds model i.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from torch import nn

from lethe.data.tensors import Split
from lethe.models.registry import build_model
from lethe.populations.reference import batchable, train_batched, train_one
from lethe.seeds import derived_seed

log = logging.getLogger(__name__)

STREAM = 7201  # the shadow originals' seed stream (lethe.seeds)


def shadow_seed(seed: int, i: int) -> int:
    """The initialisation and shuffling seed of shadow original ``i`` of the pipeline's ``seed``."""
    return derived_seed(seed, STREAM, i)


def train_shadows(arch: str, train: Split, shape, num_classes: int, recipe: dict, seed: int, k: int) -> dict:
    """K shadow originals: ``params`` (stacked {name: K×...}), ``seeds``, ``batched``, ``seconds``."""
    if k < 1:
        raise ValueError(f"train_shadows: k must be at least 1, got {k}")
    seeds = [shadow_seed(seed, i) for i in range(k)]
    started = time.perf_counter()
    batched = batchable(arch, recipe)
    if batched:
        everything = np.ones((k, len(train)), dtype=bool)
        _, params = train_batched(arch, train, everything, shape, num_classes, recipe, seeds)
    else:
        models = []
        for i, s in enumerate(seeds):
            models.append(train_one(arch, train, shape, num_classes, recipe, s))
            log.info("shadow original %d/%d trained", i + 1, k)
        params = {name: torch.stack([m.state_dict()[name] for m in models]) for name in models[0].state_dict()}
    return {"params": params, "seeds": seeds, "batched": batched, "seconds": time.perf_counter() - started}


def shadow_model(arch: str, shape, num_classes: int, params: dict[str, torch.Tensor], i: int, device) -> nn.Module:
    """Shadow original ``i`` as a module on ``device`` (eval mode)."""
    model = build_model(arch, tuple(shape), num_classes, seed=0, pretrained=False)  # weights replaced below
    model.load_state_dict({name: stacked[i] for name, stacked in params.items()})
    return model.to(device).eval()
