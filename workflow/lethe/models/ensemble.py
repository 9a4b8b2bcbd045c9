"""An ensemble of classifiers that is itself usable wherever a Classifier is.

SISA (Bourtoule et al., IEEE S&P 2021) predicts with one constituent model per shard.
:class:`Ensemble` wraps the constituents behind the interface every metric uses:

* ``features(x)``: the constituents' penultimate features, concatenated (member ``i``
  owns columns ``offsets[i]:offsets[i + 1]``);
* ``head(features)``: each constituent's output layer applied to its own columns, the
  results aggregated into one vector of logits;
* ``forward(x) = head(features(x))``.

Aggregations (:data:`AGGREGATIONS`):

* ``mean``: logits = log of the mean of the constituents' softmax probabilities
  (computed as ``logsumexp_i log_softmax(z_i) − log n``), so ``softmax(logits)`` is
  exactly the averaged distribution. Differentiable, and finite wherever the members
  are: membership inference, distances, probes and relearning (which fine-tunes the
  ensemble) all see a proper predictive distribution.
* ``vote``: the majority vote of the constituents' argmax labels (SISA's code default,
  ``aggregation.py``, uniform weights). As probabilities: ``(1 − δ)·votes/n + δ·mean``
  with ``δ`` = :data:`VOTE_SMOOTHING`, so the logits stay finite, the argmax is the vote
  winner (δ < 1/(n + 1) cannot overturn a one-vote margin) and ties go to the class of
  highest mean probability instead of the lowest class id. A vote carries no gradient
  (only the δ term does): relearning through it is not meaningful.

``stages`` is an optional dict of extra named tensors that travel with the object (not
part of ``state_dict``): SISA keeps its shard/slice assignment and per-stage
checkpoints there, written to a separate safetensors file by
:func:`lethe.models.checkpoint.save_checkpoint` when asked. ``info`` is JSON-able
metadata kept in the sidecar (SISA: its training parameters and seed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lethe.models.registry import Classifier

AGGREGATIONS = ("mean", "vote")
VOTE_SMOOTHING = 1e-3


class Ensemble(nn.Module):
    """``head(features(x))`` over several :class:`Classifier` members; see the module docstring."""

    def __init__(self, members: Sequence[Classifier], aggregation: str = "mean", info: dict | None = None):
        super().__init__()
        if not members:
            raise ValueError("Ensemble: needs at least one member")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"Ensemble: aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        if aggregation == "vote" and VOTE_SMOOTHING * (len(members) + 1) >= 1:
            raise ValueError(f"Ensemble: vote smoothing {VOTE_SMOOTHING} is too large for {len(members)} members")
        self.members = nn.ModuleList(members)
        self.aggregation = aggregation
        self.info = dict(info or {})
        self.stages: dict[str, torch.Tensor] | None = None
        dims = [int(m.head.in_features) for m in members]
        self.offsets = [0, *torch.tensor(dims).cumsum(0).tolist()]

    def spec(self) -> dict:
        """What a sidecar needs to rebuild this ensemble (members are rebuilt from the sidecar's ``arch``)."""
        return {"members": len(self.members), "aggregation": self.aggregation, "info": self.info}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.features(x).flatten(1) for m in self.members], dim=1)

    def member_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Logits of every member, members × N × C, from concatenated features."""
        if features.shape[1] != self.offsets[-1]:
            raise ValueError(f"Ensemble.head: expected {self.offsets[-1]} feature columns, got {features.shape[1]}")
        return torch.stack(
            [
                m.head(features[:, a:b])
                for m, a, b in zip(self.members, self.offsets[:-1], self.offsets[1:], strict=True)
            ]
        )

    def head(self, features: torch.Tensor) -> torch.Tensor:
        z = self.member_logits(features)
        n = z.shape[0]
        log_mean = torch.logsumexp(F.log_softmax(z, dim=2), dim=0) - math.log(n)
        if self.aggregation == "mean":
            return log_mean
        votes = F.one_hot(z.argmax(2), z.shape[2]).sum(0).to(log_mean.dtype) / n
        return torch.log((1.0 - VOTE_SMOOTHING) * votes + VOTE_SMOOTHING * log_mean.exp())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
