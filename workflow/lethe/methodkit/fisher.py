"""Diagonal Fisher information of a classifier at its current weights.

The *expected* (true) Fisher over the model's own predictive distribution:

    F_i = (1/N) Σ_x Σ_y p_θ(y|x) · (∂ log p_θ(y|x) / ∂θ_i)²

This is what nngeometry's ``FIM(..., representation=PMatDiag, variant='classif_logits')``
computes, the call PBU's code makes (``Shash12-ship/pbu``, ``utils/regularizer.py``).
Two ways to evaluate it, both batched with ``torch.func`` (per-sample gradients by
``vmap(grad(...))``, never a Python loop over samples):

* ``"expected"``: exact; one per-sample-gradient pass per class c, each weighted by
  p_θ(c|x). C passes over the data: cheap for 10 classes, 100 passes for CIFAR-100.
* ``"sampled"``: one label per sample drawn from p_θ(·|x) with a seeded generator: an
  unbiased Monte-Carlo estimate of the same quantity in one pass.

The model is in eval mode throughout (BatchNorm uses its running statistics, as the PBU
code sets BatchNorm layers to eval for the Fisher; the registry's architectures have no
dropout, so whole-model eval mode and BatchNorm-only eval mode agree) and its previous
mode is restored afterwards. Only parameters with ``requires_grad`` get an entry.

The same machinery gives plain per-sample loss gradients (:func:`per_sample_gradients`,
:func:`flatten_gradients`), which influence unlearning's WoodFisher uses.
"""

from __future__ import annotations

import torch
from torch.func import functional_call, grad, vmap

from lethe.data.tensors import Split, index_batches

FISHER_LABELS = ("expected", "sampled")


def diagonal_fisher(
    model: torch.nn.Module,
    data: Split,
    *,
    labels: str = "expected",
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """The diagonal expected Fisher of ``model`` on ``data``: {parameter name: tensor like it}.

    ``batch_size`` only bounds memory (per-sample gradients of one batch are held at
    once); the result does not depend on it beyond floating-point summation order.
    """
    if labels not in FISHER_LABELS:
        raise ValueError(f"Fisher labels must be one of {FISHER_LABELS}, got {labels!r}")
    if len(data) == 0:
        raise ValueError("diagonal_fisher: no samples")
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    frozen = {name: p.detach() for name, p in model.named_parameters() if not p.requires_grad}
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def log_prob(trainable: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, ({**trainable, **frozen}, buffers), (x.unsqueeze(0),))
        return torch.log_softmax(logits, dim=-1)[0].gather(0, y.unsqueeze(0)).squeeze(0)

    per_sample_grads = vmap(grad(log_prob), in_dims=(None, 0, 0))
    fisher = {name: torch.zeros_like(p) for name, p in params.items()}
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        for index in index_batches(len(data), batch_size, shuffle=False):
            index = index.to(data.y.device)
            x = data.x[index]
            with torch.no_grad():
                probs = torch.softmax(model(x), dim=-1)
            if labels == "expected":
                for c in range(probs.shape[1]):
                    y = torch.full((len(index),), c, dtype=torch.long, device=x.device)
                    _accumulate(fisher, per_sample_grads(params, x, y), probs[:, c])
            else:
                y = torch.multinomial(probs.float().cpu(), 1, generator=generator).squeeze(1).to(x.device)
                _accumulate(fisher, per_sample_grads(params, x, y), None)
    finally:
        model.train(was_training)
    for value in fisher.values():
        value.div_(len(data))
    return fisher


def _accumulate(fisher: dict, grads: dict, weights: torch.Tensor | None) -> None:
    """fisher[name] += Σ_b weights[b] · grads[name][b]² (weights None: all ones)."""
    for name, g in grads.items():
        squared = g.pow(2)
        if weights is None:
            fisher[name].add_(squared.sum(0))
        else:
            fisher[name].add_(torch.tensordot(weights.to(squared.dtype), squared, dims=1))


def per_sample_gradients(model: torch.nn.Module):
    """A function ``(x, y) -> {name: ∇_θ CE(f_θ(x_b), y_b) for every b}`` at the current weights.

    Each value has shape ``(B, *parameter.shape)``. Batched by ``vmap(grad(...))``, as in
    :func:`diagonal_fisher`; the weights are read once, when this function is called, and
    only parameters with ``requires_grad`` get an entry. The caller sets the model's mode
    (eval mode makes BatchNorm use its running statistics, so samples do not interact).
    """
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    frozen = {name: p.detach() for name, p in model.named_parameters() if not p.requires_grad}
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def loss(trainable: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, ({**trainable, **frozen}, buffers), (x.unsqueeze(0),))
        return torch.nn.functional.cross_entropy(logits, y.unsqueeze(0))

    batched = vmap(grad(loss), in_dims=(None, 0, 0))
    return lambda x, y: batched(params, x, y)


def flatten_gradients(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-sample gradients ``{name: (B, *shape)}`` as one ``B × d`` matrix (columns in dict order)."""
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads.values()], dim=1)
