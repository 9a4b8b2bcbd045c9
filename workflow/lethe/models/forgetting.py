"""Forgetting layers (Hatua, Nguyen, Cano, Sung: "Forgetting Neural Networks", arXiv 2410.22374).

A forgetting layer multiplies each neuron's activation by a forgetting function,
``h'_j = h_j · φ_j(t)`` with ``φ_j(t) = exp(−t/τ_j)``: ``t`` is the forgetting "time"
and ``τ_j`` the neuron's memory strength (smaller τ, faster forgetting).
:class:`ForgettingLayer` keeps ``τ`` (one per neuron) and ``t`` as buffers, so they move
with the model between devices and are not trained.

Where the layers go (the paper's network is "two fully connected layers, each followed
by a forgetting layer (FL1, FL2)"; "1-L" uses only FL2, "2-L" both). Every Lethe model
is a :class:`~lethe.models.registry.Classifier`, ``head(body(x))`` with a linear head,
and :class:`ForgettingNetwork` wraps one as ``FL2(head(FL1(body(x))))``:

* **FL1** sits on the body's output. For ``mlp`` (Flatten, Linear, ReLU) and ``cnn``
  (…, Linear(…, 128), ReLU) that is right after the hidden fully connected layer (after
  its ReLU; since φ > 0, ``ReLU(φ·z) = φ·ReLU(z)``, so before or after the ReLU is the
  same layer). ``resnet18`` has no hidden FC layer: FL1 acts on its pooled 512-d
  features, the head's input (a deviation: not after an FC layer); so do ``allcnn`` and
  the ``timm-`` models (a ViT: its normalised class-token features).
* **FL2** sits after the output layer (the head), scaling each class's logit. For the
  paper's two-FC MNIST network the second FC layer is the output layer, so this is the
  faithful reading; it is also the only FC layer every architecture has, so ``1L``
  (FL2 only) is defined for all of them.

Identity at t = 0: φ(0) = 1 for every τ, so a freshly inserted network computes exactly
what the wrapped model computes. The paper's "original model trained with forgetting
layers" is therefore, at t = 0, exactly the pipeline's ordinary original model, and FNN
needs no separately trained original: the layers are inserted into a copy of the
original when unlearning starts.

Folding (:func:`fold_forgetting_layers`, FNN's default): at the end the current φ is
folded into the head, ``W' = diag(φ2) · W · diag(φ1)`` and ``b' = φ2 · b`` (FL1 scales
the head's input columns, FL2 its output rows and bias). This is exact (same outputs up
to float rounding) and leaves a plain Classifier, so saved checkpoints load from the
registry like any other model. (Folding FL1 into the rows and bias of the preceding
hidden Linear would be equally exact for ``mlp``/``cnn`` because φ > 0 commutes with
ReLU; the head is used because every architecture has it.)

τ schemes (:func:`assign_tau`; the paper chose τ "by trial and error" and gives no
values, so Lethe's are a range ``[tau_min, tau_max]`` with ``t`` counted in unlearning
epochs):

* ``fixed``: ``τ_j = tau`` for every neuron;
* ``rank``: neurons ranked by mean activation on D_f, most activated first; rank ``r``
  of ``n`` gets ``τ = tau_min + (tau_max − tau_min)·r/(n−1)``, so the most activated
  neuron has the smallest τ (forgets fastest);
* ``ordered``: the same ladder by position (neuron 0 gets ``tau_min``);
* ``top30``: the ladder over the ``top_k`` (30) most activated neurons only; every other
  neuron gets the large constant ``tau_rest`` (φ ≈ 1: it does not decay). With
  ``n ≤ top_k`` neurons (e.g. a 10-class FL2) this is ``rank``;
* ``random``: a seeded random permutation of the same ladder, so that rank, ordered and
  random differ only in the assignment, not in the set of τ values.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lethe.data.tensors import Split, index_batches
from lethe.models.registry import Classifier

LAYER_SETS: dict[str, tuple[str, ...]] = {"1L": ("fl2",), "2L": ("fl1", "fl2")}
SCHEMES = ("fixed", "rank", "ordered", "top30", "random")


class ForgettingLayer(nn.Module):
    """``h'_j = h_j · exp(−t/τ_j)`` over dimension 1 (features or channels)."""

    def __init__(self, tau: torch.Tensor | Sequence[float], t: float = 0.0):
        super().__init__()
        tau = torch.as_tensor(tau, dtype=torch.float32).flatten()
        if tau.numel() == 0 or not bool(torch.all(tau > 0)):
            raise ValueError(f"ForgettingLayer: τ must be a non-empty vector of positive values, got {tau.tolist()}")
        self.register_buffer("tau", tau)
        self.register_buffer("t", torch.tensor(float(t), device=tau.device))

    @property
    def width(self) -> int:
        return int(self.tau.numel())

    def set_time(self, t: float) -> None:
        if t < 0:
            raise ValueError(f"ForgettingLayer: time t must be ≥ 0, got {t}")
        self.t.fill_(float(t))

    def phi(self) -> torch.Tensor:
        """φ_j(t) = exp(−t/τ_j), one value per neuron."""
        return torch.exp(-self.t / self.tau)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.shape[1] != self.width:
            raise ValueError(f"ForgettingLayer of width {self.width} got input of shape {tuple(h.shape)}")
        return h * self.phi().view(1, -1, *([1] * (h.dim() - 2)))

    def extra_repr(self) -> str:
        return f"width={self.width}, t={float(self.t):g}"


class ForgettingNetwork(nn.Module):
    """``FL2(head(FL1(body(x))))`` around a :class:`Classifier` (absent layers are skipped)."""

    def __init__(self, model: Classifier, fl1: ForgettingLayer | None = None, fl2: ForgettingLayer | None = None):
        super().__init__()
        if fl1 is None and fl2 is None:
            raise ValueError("ForgettingNetwork needs at least one forgetting layer")
        if fl1 is not None and fl1.width != model.head.in_features:
            raise ValueError(f"FL1 width {fl1.width} != head input features {model.head.in_features}")
        if fl2 is not None and fl2.width != model.head.out_features:
            raise ValueError(f"FL2 width {fl2.width} != head output features {model.head.out_features}")
        self.model = model
        self.fl1 = fl1
        self.fl2 = fl2

    def forgetting_layers(self) -> dict[str, ForgettingLayer]:
        return {name: layer for name, layer in (("fl1", self.fl1), ("fl2", self.fl2)) if layer is not None}

    def set_time(self, t: float) -> None:
        for layer in self.forgetting_layers().values():
            layer.set_time(t)

    @property
    def time(self) -> float:
        return float(next(iter(self.forgetting_layers().values())).t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.model.body(x)
        if self.fl1 is not None:
            h = self.fl1(h)
        z = self.model.head(h)
        return self.fl2(z) if self.fl2 is not None else z


def layer_widths(model: Classifier) -> dict[str, int]:
    """Number of neurons each forgetting layer acts on: FL1 the head's inputs, FL2 its outputs."""
    return {"fl1": int(model.head.in_features), "fl2": int(model.head.out_features)}


@torch.no_grad()
def mean_activations(model: Classifier, split: Split, batch_size: int = 1024) -> dict[str, torch.Tensor]:
    """Mean activation on ``split`` of the neurons FL1 and FL2 act on (penultimate features, logits).

    Computed with the plain model, which is the forgetting network at t = 0. Returned on CPU.
    """
    if len(split) == 0:
        raise ValueError("mean_activations: empty split (FNN ranks neurons by their activation on D_f)")
    was_training = model.training
    model.eval()
    sums = {"fl1": 0.0, "fl2": 0.0}
    for index in index_batches(len(split), batch_size, shuffle=False):
        h = model.body(split.x[index.to(split.x.device)])
        z = model.head(h)
        sums["fl1"] = sums["fl1"] + h.sum(0)
        sums["fl2"] = sums["fl2"] + z.sum(0)
    model.train(was_training)
    return {name: (total / len(split)).float().cpu() for name, total in sums.items()}


def _ladder(n: int, tau_min: float, tau_max: float) -> torch.Tensor:
    if n == 1:
        return torch.tensor([float(tau_min)])
    return torch.linspace(float(tau_min), float(tau_max), n)


def assign_tau(
    scheme: str,
    n: int,
    *,
    activation: torch.Tensor | None = None,
    tau: float = 5.0,
    tau_min: float = 1.0,
    tau_max: float = 10.0,
    tau_rest: float = 1e6,
    top_k: int = 30,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """τ for ``n`` neurons under ``scheme`` (see the module docstring); float32, on CPU.

    ``activation`` (length ``n``, the mean activation on D_f) is needed by ``rank`` and
    ``top30``; ``generator`` seeds ``random``. Ties in activation keep position order.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"τ scheme must be one of {SCHEMES}, got {scheme!r}")
    if not 0 < tau_min <= tau_max or tau <= 0 or tau_rest <= 0:
        raise ValueError(
            f"τ values must be positive with tau_min ≤ tau_max; got tau={tau}, tau_min={tau_min}, "
            f"tau_max={tau_max}, tau_rest={tau_rest}"
        )
    if scheme == "fixed":
        return torch.full((n,), float(tau))
    ladder = _ladder(n, tau_min, tau_max)
    if scheme == "ordered":
        return ladder
    if scheme == "random":
        return ladder[torch.randperm(n, generator=generator)]
    if activation is None or activation.numel() != n:
        raise ValueError(f"τ scheme {scheme!r} needs the mean activation of each of the {n} neurons")
    order = torch.argsort(activation.detach().float().cpu(), descending=True, stable=True)  # most activated first
    out = torch.empty(n)
    if scheme == "rank":
        out[order] = ladder
        return out
    k = min(int(top_k), n)  # top30
    out.fill_(float(tau_rest))
    out[order[:k]] = _ladder(k, tau_min, tau_max)
    return out


def insert_forgetting_layers(
    model: Classifier,
    layers: str,
    taus: dict[str, torch.Tensor],
) -> ForgettingNetwork:
    """Wrap ``model`` with the forgetting layers of ``layers`` ("1L": FL2; "2L": FL1 and FL2) at t = 0.

    ``taus`` maps "fl1"/"fl2" to τ vectors (of :func:`layer_widths` length). The wrapped
    model is shared, not copied.
    """
    if layers not in LAYER_SETS:
        raise ValueError(f"layers must be one of {tuple(LAYER_SETS)}, got {layers!r}")
    device = model.head.weight.device
    made = {}
    for name in LAYER_SETS[layers]:
        if name not in taus:
            raise ValueError(f"insert_forgetting_layers: layers={layers!r} needs τ for {name!r}")
        made[name] = ForgettingLayer(torch.as_tensor(taus[name], dtype=torch.float32).to(device))
    return ForgettingNetwork(model, made.get("fl1"), made.get("fl2"))


@torch.no_grad()
def fold_forgetting_layers(network: ForgettingNetwork) -> Classifier:
    """Fold the current φ of every forgetting layer into the head; return the plain Classifier.

    ``W' = diag(φ2)·W·diag(φ1)``, ``b' = φ2·b``: exact, since the layers are linear
    scalings next to the head. The wrapped model is modified in place and returned;
    the network should not be used afterwards.
    """
    head = network.model.head
    if network.fl1 is not None:
        head.weight.mul_(network.fl1.phi().view(1, -1))
    if network.fl2 is not None:
        phi2 = network.fl2.phi()
        head.weight.mul_(phi2.view(-1, 1))
        if head.bias is not None:
            head.bias.mul_(phi2)
    return network.model


__all__ = [
    "LAYER_SETS",
    "SCHEMES",
    "ForgettingLayer",
    "ForgettingNetwork",
    "assign_tau",
    "fold_forgetting_layers",
    "insert_forgetting_layers",
    "layer_widths",
    "mean_activations",
]
