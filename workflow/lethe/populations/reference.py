"""Reference models: K models of the original's architecture and recipe, each trained on a
random half of the audited pool, for the per-example attacks (:mod:`lethe.metrics.lira`).

The pool is every sample an attacker asks about (the sidecar's ``population``, in LiRA's
sense): the training set followed by the
test set (train ∪ test, in that order). Each reference model k trains on exactly half of
it, ``in_mask[k]``: models 2j and 2j+1 take the two halves of one seeded permutation
(:func:`halves`), so each sample is IN exactly K/2 models and OUT of the others, and both of
LiRA's distributions exist for every sample, members of the target model and non-members alike (Carlini et al. 2022 train their
shadow models on random halves of the whole data set for the same reason). A model trained on
half of train ∪ test is not one of the experiment's models: it is never evaluated for
accuracy and never unlearned; its only use is the distribution of its outputs.

Each model is what :func:`lethe.train.fit` would train with the config's recipe on its
half, from ``build_model(arch, ..., seed=model_seed)`` and ``fit(..., seed=model_seed)``
(``model_seed = derived_seed(seed, STREAM, k)``): the same shuffling, optimiser and steps.
Where the architecture has no batch normalisation (``mlp``, ``cnn``) the K models train
together (:func:`train_batched`): their parameters stacked along a new first dimension,
per-model gradients from ``torch.func.vmap(grad(loss))`` on each model's own mini-batch,
one optimiser over the stacked tensors (Adam and SGD are element-wise, so each slice
follows its model's own update). That equals the models trained one at a time up to
floating-point reassociation (batched matrix products sum in another order), which
``tests/unit/test_reference.py`` checks. Other architectures train one at a time.

What is kept (:func:`write_reference`): every model's weights (safetensors, stacked), and
``scores.npz`` with ``in_mask`` (K×N bool), ``phi`` (K×N float32, LiRA's logit-scaled
confidence of each sample's true label, :func:`lethe.metrics.predict.logit_confidence`) and
``n_train`` (where the test samples begin).
"""

from __future__ import annotations

import copy
import logging
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lethe.data.tensors import Split, index_batches
from lethe.metrics.predict import logit_confidence
from lethe.metrics.predict import logits as model_logits
from lethe.models.registry import build_model
from lethe.seeds import derived_seed
from lethe.train import extended, extended_args, fit, make_optimizer

log = logging.getLogger(__name__)

STREAM = 7001  # the reference models' seed stream (lethe.seeds)
BATCHED_ARCHS = ("mlp", "cnn")  # no batch normalisation: one vmapped step trains all K


def pool(train: Split, test: Split) -> Split:
    """train ∪ test, training samples first."""
    return Split(torch.cat([train.x, test.x]), torch.cat([train.y, test.y]))


def model_seed(seed: int, k: int) -> int:
    """The initialisation and shuffling seed of reference model ``k``."""
    return derived_seed(seed, STREAM, k)


def halves(n: int, k: int, seed: int) -> np.ndarray:
    """K×n bool, K even: models 2j and 2j+1 train on complementary halves of a random permutation.

    So every sample is IN exactly K/2 models and OUT of K/2 (LiRA fits both distributions
    for every sample, whatever K), and every model sees n // 2 or n − n // 2 samples. Pair
    j's permutation comes from its own stream, so the first K models are the same for any
    larger K.
    """
    if k < 2 or k % 2:
        raise ValueError(f"reference models come in complementary pairs: K must be even and at least 2, got {k}")
    mask = np.zeros((k, n), dtype=bool)
    for j in range(k // 2):
        order = np.random.default_rng(derived_seed(seed, STREAM + 1, j)).permutation(n)
        mask[2 * j, order[: n // 2]] = True
        mask[2 * j + 1, order[n // 2 :]] = True
    return mask


def train_one(arch: str, data: Split, shape, num_classes: int, recipe: dict, seed: int) -> nn.Module:
    """One reference model: ``fit`` with the recipe on ``data`` from ``seed`` (the one-at-a-time path)."""
    model = build_model(arch, tuple(shape), num_classes, seed=seed).to(data.x.device)
    fit(model, data, **_fit_args(recipe), seed=seed, name=f"reference seed {seed}")
    return model


def _fit_args(recipe: dict) -> dict:
    return {
        "epochs": int(recipe["epochs"]),
        "batch_size": int(recipe["batch_size"]),
        "lr": float(recipe["lr"]),
        "optimizer": recipe.get("optimizer", "adam"),
        "momentum": float(recipe.get("momentum", 0.9)),
        "weight_decay": float(recipe.get("weight_decay", 0.0)),
        # A schedule, Nesterov, label smoothing, clipping or augmentation (lethe.train.EXTENDED_KEYS):
        **extended_args(recipe),
    }


def batchable(arch: str, recipe: dict) -> bool:
    """Whether K models of ``arch`` train together under ``recipe``: no batch normalisation, and the
    plain recipe :func:`train_batched` implements (no schedule, augmentation, ...: one at a time then)."""
    return arch in BATCHED_ARCHS and not extended(recipe)


def train_batched(
    arch: str, data: Split, mask: np.ndarray, shape, num_classes: int, recipe: dict, seeds: list[int]
) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """Train len(seeds) models at once, model i on ``data`` restricted to ``mask[i]``.

    Returns the template module (for ``functional_call``) and the stacked parameters
    {name: K×...}. Each model draws its batch order from its own generator exactly as
    :func:`lethe.train.fit` does (``randperm`` of its half per epoch).
    """
    from torch.func import functional_call, grad, stack_module_state, vmap

    args = _fit_args(recipe)
    device = data.x.device
    models = [build_model(arch, tuple(shape), num_classes, seed=s).to(device) for s in seeds]
    params, buffers = stack_module_state(models)
    if buffers:
        raise ValueError(f"train_batched: {arch} has buffers (batch normalisation); train its models one at a time")
    template = copy.deepcopy(models[0]).to("meta")
    names = list(params)

    def loss(p, x, y):
        return F.cross_entropy(functional_call(template, p, (x,)), y)

    grads = vmap(grad(loss))
    # The optimiser sees the stacked tensors as its parameters; each step sets their .grad.
    opt_params = [torch.nn.Parameter(p.detach()) for p in params.values()]
    opt = make_optimizer(opt_params, args["optimizer"], args["lr"], args["momentum"], args["weight_decay"])
    idx = [torch.as_tensor(np.flatnonzero(row), device=device) for row in mask]
    n = len(idx[0])
    if any(len(i) != n for i in idx):
        raise ValueError("train_batched: every model needs a half of the same size")
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    steps = 0
    for epoch in range(1, args["epochs"] + 1):
        started = time.perf_counter()
        orders = [list(index_batches(n, args["batch_size"], g)) for g in generators]
        for b in range(len(orders[0])):
            batch = torch.stack([idx[i][orders[i][b].to(device)] for i in range(len(seeds))])  # K×B
            x, y = data.x[batch], data.y[batch]
            current = dict(zip(names, opt_params, strict=True))
            g = grads({k: v.detach() for k, v in current.items()}, x, y)
            for name, p in current.items():
                p.grad = g[name]
            opt.step()
            steps += 1
        log.info(
            "reference models epoch %d/%d (%d models, %d steps, %.2fs)",
            epoch,
            args["epochs"],
            len(seeds),
            steps,
            time.perf_counter() - started,
        )
    return template, {name: p.detach() for name, p in zip(names, opt_params, strict=True)}


@torch.no_grad()
def stacked_logits(template: nn.Module, params: dict[str, torch.Tensor], data: Split, batch_size: int = 4096):
    """K×N×C logits of the stacked models on ``data``."""
    from torch.func import functional_call, vmap

    forward = vmap(lambda p, x: functional_call(template, p, (x,)), in_dims=(0, None))
    out = [forward(params, data.x[i]) for i in index_batches(len(data), batch_size, shuffle=False)]
    return torch.cat(out, dim=1)


def train_reference(
    arch: str, train: Split, test: Split, shape, num_classes: int, recipe: dict, seed: int, k: int
) -> dict:
    """K reference models on halves of train ∪ test: their masks, LiRA scores and weights.

    Returns ``in_mask`` (K×N), ``phi`` (K×N float32), ``n_train``, ``params`` (stacked
    {name: K×...}), ``batched`` and ``seconds``.
    """
    data = pool(train, test)
    mask = halves(len(data), k, seed)
    seeds = [model_seed(seed, i) for i in range(k)]
    started = time.perf_counter()
    batched = batchable(arch, recipe)
    if batched:
        # An odd pool gives halves of two sizes: one vmapped group per size.
        sizes = mask.sum(1)
        parts = []
        for size in sorted(set(sizes.tolist())):
            group = np.flatnonzero(sizes == size)
            template, p = train_batched(arch, data, mask[group], shape, num_classes, recipe, [seeds[i] for i in group])
            parts.append((group, p, stacked_logits(template, p, data)))
        order = np.argsort(np.concatenate([g for g, _, _ in parts]))
        logits = torch.cat([z for _, _, z in parts])[order]
        params = {name: torch.cat([p[name] for _, p, _ in parts])[order] for name in parts[0][1]}
    else:
        models = []
        for i, s in enumerate(seeds):
            models.append(train_one(arch, data.subset(np.flatnonzero(mask[i])), shape, num_classes, recipe, s))
            log.info("reference model %d/%d trained", i + 1, k)
        logits = torch.stack([model_logits(m, data, 4096) for m in models])
        params = {name: torch.stack([m.state_dict()[name] for m in models]) for name in models[0].state_dict()}
    phi = np.stack([logit_confidence(z, data.y) for z in logits.cpu()]).astype(np.float32)
    return {
        "in_mask": mask,
        "phi": phi,
        "n_train": len(train),
        "params": params,
        "batched": batched,
        "seconds": time.perf_counter() - started,
    }
