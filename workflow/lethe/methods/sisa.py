"""SISA unlearning: retrain only the affected shards, from the checkpoint before the first affected slice.

Bourtoule et al., "Machine Unlearning", IEEE S&P 2021 (``cleverhans-lab/machine-unlearning``).
SISA is exact by construction: the model it starts from is not the pipeline's original
but its own sharded ensemble, trained by the rule ``train_sisa``
(:func:`lethe.methodkit.sharding.train_sisa`; see that module for sharding, slicing, the epoch
schedule, seeds and aggregation). To forget samples, every shard holding one restarts
from its checkpoint after the last slice before the first slice holding one (or from
its seeded initialisation when that is the first slice) and trains the remaining stages
on the samples still present, with :func:`lethe.methodkit.sharding.train_shard`, the very function that
trained it. Shards without a forgotten sample are kept as they are. The result is
bit-identical (on CPU) to SISA training from scratch on D without D_f with the same seed,
shards and slices (tested).

What the method sees: the retain set and its training indices (``data.retain``,
``data.retain_indices``); never the forget images. The forgotten indices are the
training indices the assignment knows and D_r lacks. Its parameters must be the ones the
SISA original was trained with (the workflow hands both rules the same ``sisa`` entry);
a mismatch is an error, since retraining with another recipe would not be exact.

Cost and what to expect. Class forgetting puts samples of the class in (almost) every
slice of every shard, so every shard restarts from scratch: the cost is that of SISA
training itself, which the run record shows honestly (``shards_retrained`` = S). A
small random forget set touches few shards and, on average, retrains about half the
stages of each. Notes: ``shards_retrained``, ``stages_retrained`` (of ``stages_total`` =
S × R), ``samples_fraction`` (samples trained on, over those of SISA's own training) and
per-shard details (``shards``: shard, forgotten count, first retrained stage, stages,
steps, samples). The stage checkpoints of the retrained shards are replaced in
``model.stages``, so further deletions could continue from them (the workflow saves the
unlearned model's weights only).
"""

from __future__ import annotations

import numpy as np

from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.sharding import (
    PARAM_KEYS,
    Assignment,
    check_params,
    initial_member,
    positions,
    stage_state,
    train_shard,
)
from lethe.models.ensemble import Ensemble


def unlearn(model: Ensemble, data: UnlearningData, params: dict, ctx: Context) -> Ensemble:
    if not isinstance(model, Ensemble) or model.info.get("method") != "sisa" or model.stages is None:
        raise ValueError(
            "sisa starts from the SISA original (results/models/{dataset}/{arch}/seed{seed}/sisa_original"
            ".safetensors, rule train_sisa, with its stage checkpoints), not from "
            f"{type(model).__name__}"
        )
    if data.retain is None or data.retain_indices is None:
        raise ValueError("sisa needs the retain set and its training indices")
    check_params(params)
    trained = {k: model.info["params"][k] for k in PARAM_KEYS}
    asked = {k: params[k] for k in PARAM_KEYS}
    if trained != asked:
        raise ValueError(f"sisa: parameters {asked} differ from those the SISA original was trained with {trained}")
    seed = int(model.info["seed"])
    assignment = Assignment.from_stages(model.stages)
    n = len(assignment.shard)
    retain_idx = np.asarray(data.retain_indices, dtype=np.int64)
    if len(retain_idx) != len(data.retain) or (len(retain_idx) and not 0 <= retain_idx.min() <= retain_idx.max() < n):
        raise ValueError(f"sisa: retain indices do not index the {n} training samples the SISA original was built on")
    forgotten = np.setdiff1d(np.arange(n), retain_idx)
    position = positions(n, retain_idx)

    details = []
    for shard in range(int(params["shards"])):
        lost = forgotten[assignment.shard[forgotten] == shard]
        if len(lost) == 0:
            continue
        first = int(assignment.slice[lost].min())
        member = model.members[shard]
        if first == 0:
            start = initial_member(ctx.arch, data.shape, data.num_classes, seed, shard).state_dict()
        else:
            start = stage_state(model.stages, shard, first - 1)
        member.load_state_dict(start)
        results = train_shard(
            member, data.retain, position, assignment, shard, first, params, seed, model.stages, ctx.amp
        )
        steps, samples = sum(r.steps for r in results), sum(r.samples for r in results)
        ctx.steps += steps
        ctx.samples += samples
        details.append(
            {
                "shard": shard,
                "forgotten": int(len(lost)),
                "first_stage": first,
                "stages_retrained": int(params["slices"]) - first,
                "steps": steps,
                "samples": samples,
            }
        )
    model.eval()
    model.info["excluded"] = int(len(forgotten))  # as if trained from scratch without them
    ctx.notes.update(
        shards_retrained=len(details),
        shards_total=int(params["shards"]),
        stages_retrained=sum(d["stages_retrained"] for d in details),
        stages_total=int(params["shards"]) * int(params["slices"]),
        samples_fraction=ctx.samples / max(int(model.info["train_samples"]), 1),
        forgotten=int(len(forgotten)),
        shards=details,
    )
    return model
