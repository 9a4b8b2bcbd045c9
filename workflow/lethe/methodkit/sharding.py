"""SISA training: sharded, isolated, sliced, aggregated (Bourtoule et al., IEEE S&P 2021).

Bourtoule, Chandrasekaran, Choquette-Choo, Jia, Travers, Zhang, Lie and Papernot,
"Machine Unlearning", IEEE S&P 2021; official code ``cleverhans-lab/machine-unlearning``
(``sisa.py``, ``sharded.py``, ``aggregation.py``). This module trains the SISA model the
pipeline calls the SISA original (rule ``train_sisa``) and the shards that unlearning
retrains (:mod:`lethe.methods.sisa`); both paths run the same function,
:func:`train_shard`, which is what makes unlearning exact.

**Sharding and slicing.** A permutation of the training *indices* ``0..n−1``, drawn from
``SeedSequence([seed, ASSIGN_TAG])``, is cut into ``shards`` contiguous, near-equal
shards (``numpy.array_split``) and each shard into ``slices`` near-equal slices. The
assignment depends only on (n, shards, slices, seed), never on which samples are
present, so training without some samples uses the very same shards and slices.

**Incremental training.** Shard ``s`` has its own constituent model, the pipeline's
architecture (:func:`lethe.models.registry.build_model`) initialised from
``SeedSequence([seed, INIT_TAG, s])``. Stage ``k`` (0-based, ``0..slices−1``) trains it
on the union of slices ``0..k`` of the shard (the samples present, in ascending
training index) for ``stage_epochs`` epochs, then checkpoints it. The paper's schedule
spreads ``e`` epochs of the shard over the stages: ``2e/(R+1)`` per stage, so the stages
together see ``e`` epochs' worth of the shard's samples. Lethe uses
``max(1, round-half-up(2e/(R+1)))`` epochs for every stage (the official code's
cumulative ``int((k+1)·a) − int(k·a)`` spreads the same total unevenly and can give a
stage 0 epochs). Each stage is one call of :func:`lethe.train.fit` with a fresh
optimiser and a batch order seeded by ``SeedSequence([seed, ORDER_TAG, s, k])`` only:
restarting from a stage checkpoint needs the weights and nothing else. (The official
code keeps one optimiser across the stages of a process; with its default, plain SGD
without momentum, the two are the same. Its batches are fixed windows of the shard's
order with deleted points dropped from them; Lethe shuffles the samples present.)

**Checkpoints.** ``stages`` holds the assignment (``assignment.shard``,
``assignment.slice``: the shard and slice of every training index) and the weights of
every member after every stage (``shard{s}.stage{k}.{name}``): S × R states.

**Aggregation** (:class:`lethe.models.ensemble.Ensemble`): ``mean`` (default) averages
the members' softmax outputs, the logits being the log of that average; ``vote`` is the
paper's and the code's majority vote of argmax labels. The mean is the default because
the evaluation computes membership inference, distances to retrain, probes and
relearning on the model's logits and features: it needs a proper predictive
distribution, and relearning needs a gradient, which a vote does not have. The features
are the members' penultimate features, concatenated (S × the member's width).

**Parameters** (the catalogue's ``sisa`` entry; the workflow hands the same merged entry
to rule ``train_sisa`` and to the method, and the method refuses others): ``shards``
S = 5, ``epochs`` e = 20, ``batch_size`` 16, plain SGD (``momentum`` 0, ``weight_decay``
0) at ``lr`` 1e-3 are the official code's defaults. ``slices`` R = 4 is Lethe's: the
code's default of one slice turns slicing off, and the paper studies R as a trade-off
without fixing one. Shards and slices are cut with ``array_split`` (the first pieces get
the remainder; the code's last slice does). On digits (MLP), lr 1e-3 underfits the
270-image shards (ensemble test accuracy 0.74), so ``config/config.yaml`` sets lr 0.1:
0.953-0.964 over seeds 0-2, against 0.978 for one MLP trained on all of digits; SISA
training takes about a second on one CPU thread. For Fashion-MNIST with the small CNN,
batch 16 and 20 epochs are far beyond a CPU budget; ``{slices: 2, epochs: 3,
batch_size: 128, optimizer: adam, lr: 0.001}`` (2 epochs per stage) makes the same 1,410
steps as the 3-epoch original (measured, seed 0: ensemble test accuracy 0.862 against
the single CNN's 0.899; forgetting class 0 retrains all 5 shards in 1,278 steps,
acc_forget 0, retained test accuracy 0.875).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from lethe.data.tensors import Split
from lethe.device import prepare_model
from lethe.models.ensemble import AGGREGATIONS, Ensemble
from lethe.models.registry import Classifier, build_model
from lethe.seeds import derived_seed
from lethe.train import FitResult, fit

log = logging.getLogger(__name__)

ASSIGN_TAG, INIT_TAG, ORDER_TAG = 0x5157A, 0x5157B, 0x5157C  # keep SISA's streams apart from other seeds
PARAM_KEYS = ("shards", "slices", "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "aggregation")


def check_params(params: dict, n: int | None = None) -> None:
    """Raise a ValueError naming the bad SISA parameter (``n``: training-set size, if known)."""
    missing = sorted(set(PARAM_KEYS) - set(params))
    if missing:
        raise ValueError(f"sisa: missing parameter(s) {missing}")
    for key in ("shards", "slices", "epochs", "batch_size"):
        if int(params[key]) < 1:
            raise ValueError(f"sisa: {key} must be at least 1, got {params[key]!r}")
    if params["aggregation"] not in AGGREGATIONS:
        raise ValueError(f"sisa: aggregation must be one of {AGGREGATIONS}, got {params['aggregation']!r}")
    if n is not None and n < int(params["shards"]) * int(params["slices"]):
        raise ValueError(
            f"sisa: {n} training samples cannot fill {params['shards']} shards × {params['slices']} slices"
        )


def stage_epochs(epochs: int, slices: int) -> int:
    """Epochs of every stage: ``max(1, round-half-up(2·epochs/(slices+1)))``."""
    return max(1, math.floor(2 * int(epochs) / (int(slices) + 1) + 0.5))


@dataclass(frozen=True)
class Assignment:
    """The shard and the slice (within its shard) of every training index."""

    shard: np.ndarray
    slice: np.ndarray

    def stage_indices(self, shard: int, stage: int) -> np.ndarray:
        """Training indices that stage ``stage`` of shard ``shard`` trains on (slices 0..stage), ascending."""
        return np.flatnonzero((self.shard == shard) & (self.slice <= stage))

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"assignment.shard": torch.from_numpy(self.shard), "assignment.slice": torch.from_numpy(self.slice)}

    @classmethod
    def from_stages(cls, stages: dict[str, torch.Tensor]) -> Assignment:
        return cls(stages["assignment.shard"].cpu().numpy(), stages["assignment.slice"].cpu().numpy())


def assign(n: int, shards: int, slices: int, seed: int) -> Assignment:
    """Shards and slices of ``n`` training indices (see the module docstring)."""
    if n < shards * slices:
        raise ValueError(f"sisa: {n} training samples cannot fill {shards} shards × {slices} slices")
    order = np.random.default_rng(derived_seed(seed, ASSIGN_TAG)).permutation(n)
    shard_of = np.empty(n, dtype=np.int64)
    slice_of = np.empty(n, dtype=np.int64)
    for s, part in enumerate(np.array_split(order, shards)):
        shard_of[part] = s
        for k, piece in enumerate(np.array_split(part, slices)):
            slice_of[piece] = k
    return Assignment(shard_of, slice_of)


def stage_prefix(shard: int, stage: int) -> str:
    return f"shard{shard}.stage{stage}."


def stage_state(stages: dict[str, torch.Tensor], shard: int, stage: int) -> dict[str, torch.Tensor]:
    """The weights of member ``shard`` after stage ``stage``."""
    prefix = stage_prefix(shard, stage)
    state = {k[len(prefix) :]: v for k, v in stages.items() if k.startswith(prefix)}
    if not state:
        raise KeyError(f"sisa: no checkpoint of shard {shard} after stage {stage}")
    return state


def initial_member(arch: str, shape: tuple[int, int, int], num_classes: int, seed: int, shard: int) -> Classifier:
    """Member ``shard`` before any training: ``arch`` initialised from ``SeedSequence([seed, INIT_TAG, shard])``."""
    return build_model(arch, tuple(shape), num_classes, seed=derived_seed(seed, INIT_TAG, shard))


def train_shard(
    member: Classifier,
    source: Split,
    position: np.ndarray,
    assignment: Assignment,
    shard: int,
    first_stage: int,
    params: dict,
    seed: int,
    stages: dict[str, torch.Tensor],
    amp: bool | str = False,
) -> list[FitResult]:
    """Train ``member`` in place through stages ``first_stage..slices−1`` of ``shard``; checkpoint each into ``stages``.

    ``member`` must hold the weights after stage ``first_stage − 1`` (or the initial
    weights for stage 0). ``source`` holds the training samples present and
    ``position[i]`` is the row of training index ``i`` in it (−1: absent). A stage with
    no sample present leaves the weights as they are. ``amp``: mixed precision of the
    training (:func:`lethe.train.fit`); training and unlearning must use the same for
    unlearning to be exact.
    """
    results = []
    epochs = stage_epochs(params["epochs"], params["slices"])
    for stage in range(first_stage, int(params["slices"])):
        rows = position[assignment.stage_indices(shard, stage)]
        rows = rows[rows >= 0]
        if len(rows):
            results.append(
                fit(
                    member,
                    source.subset(rows),
                    epochs=epochs,
                    batch_size=int(params["batch_size"]),
                    lr=float(params["lr"]),
                    optimizer=params["optimizer"],
                    momentum=float(params["momentum"]),
                    weight_decay=float(params["weight_decay"]),
                    seed=derived_seed(seed, ORDER_TAG, shard, stage),
                    name=f"sisa shard {shard} stage {stage}",
                    amp=amp,
                )
            )
        prefix = stage_prefix(shard, stage)
        stages.update({prefix + k: v.detach().clone() for k, v in member.state_dict().items()})
    member.eval()
    return results


def positions(n: int, present: np.ndarray) -> np.ndarray:
    """Row of every training index in a split holding the ``present`` indices in that order (−1: absent)."""
    position = np.full(n, -1, dtype=np.int64)
    position[np.asarray(present, dtype=np.int64)] = np.arange(len(present))
    return position


def train_sisa(
    train: Split,
    arch: str,
    shape: tuple[int, int, int],
    num_classes: int,
    params: dict,
    seed: int,
    exclude: np.ndarray | None = None,
    amp: bool | str = False,
    memory_format: str = "auto",
) -> tuple[Ensemble, list[FitResult]]:
    """The SISA model trained from scratch on ``train`` without the training indices ``exclude``.

    Returns the ensemble (with ``stages``: assignment and S × R checkpoints; ``info``:
    seed, parameters, training-set size and cost) and every stage's :class:`FitResult`.
    ``amp`` and ``memory_format``: see :mod:`lethe.device`.
    """
    n = len(train)
    check_params(params, n)
    assignment = assign(n, int(params["shards"]), int(params["slices"]), seed)
    keep = np.setdiff1d(np.arange(n), np.asarray([] if exclude is None else exclude, dtype=np.int64))
    source = train if len(keep) == n else train.subset(keep)
    position = positions(n, keep)
    stages = assignment.tensors()
    members, results = [], []
    device = train.y.device
    for shard in range(int(params["shards"])):
        member = prepare_model(initial_member(arch, shape, num_classes, seed, shard), device, memory_format)
        results += train_shard(member, source, position, assignment, shard, 0, params, seed, stages, amp)
        members.append(member)
    info = {
        "method": "sisa",
        "seed": int(seed),
        "params": dict(params),
        "n_train": n,
        "excluded": int(n - len(keep)),
        "stage_epochs": stage_epochs(params["epochs"], params["slices"]),
        "train_steps": sum(r.steps for r in results),
        "train_samples": sum(r.samples for r in results),
    }
    ensemble = Ensemble(members, params["aggregation"], info).to(device).eval()
    ensemble.stages = {k: v.to(device) for k, v in stages.items()}
    log.info(
        "sisa: %d shards × %d slices, %d epochs per stage, %d steps",
        params["shards"],
        params["slices"],
        info["stage_epochs"],
        info["train_steps"],
    )
    return ensemble, results
