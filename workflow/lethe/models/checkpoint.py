"""Checkpoints: weights in safetensors, everything else in a JSON sidecar.

Loading never unpickles: the sidecar names the architecture, which is rebuilt from
the registry, and the tensors come from the safetensors file.

Ensembles (:class:`lethe.models.ensemble.Ensemble`, SISA's sharded model): the sidecar's
``ensemble`` entry (members, aggregation, info) says so, every member is rebuilt from
``arch``, and the weights load as one state dict. An ensemble's extra tensors
(``Ensemble.stages``: SISA's assignment and per-stage checkpoints) go to a second
safetensors file only when ``save_checkpoint`` is given ``stages_path``; the sidecar then
names it (relative to the checkpoint's folder) and ``load_checkpoint`` loads it too.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from lethe.io import atomic_path, read_json, write_json
from lethe.models.ensemble import Ensemble
from lethe.models.registry import Classifier, build_model


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_checkpoint(
    model: Classifier | Ensemble, path: str | Path, meta: dict, stages_path: str | Path | None = None
) -> None:
    """Write ``path`` (safetensors) and ``path`` with .json (meta must name arch, shape, num_classes).

    For an :class:`Ensemble` the sidecar also gets its ``ensemble`` spec (``arch`` names
    the members' architecture), and ``stages_path`` (optional, same folder as ``path``)
    receives ``model.stages``.
    """
    for key in ("arch", "shape", "num_classes"):
        if key not in meta:
            raise ValueError(f"checkpoint metadata needs {key!r}")
    meta = dict(meta)
    if isinstance(model, Ensemble):
        meta["ensemble"] = model.spec()
        if stages_path is not None:
            if model.stages is None:
                raise ValueError(f"save_checkpoint: {path}: stages_path given but the ensemble has no stages")
            if Path(stages_path).resolve().parent != Path(path).resolve().parent:
                raise ValueError(f"save_checkpoint: stages file {stages_path} must sit beside {path}")
            with atomic_path(stages_path) as tmp:
                save_file(_cpu(model.stages), str(tmp))
            meta["ensemble"]["stages"] = Path(stages_path).name
    elif stages_path is not None:
        raise ValueError(f"save_checkpoint: {path}: only an Ensemble has stages to save")
    with atomic_path(path) as tmp:
        save_file(_cpu(model.state_dict()), str(tmp), metadata={"arch": str(meta["arch"])})
    write_json(sidecar_path(path), meta)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[Classifier | Ensemble, dict]:
    """Rebuild the model named by the sidecar (an :class:`Ensemble` where it says so) and load its weights."""
    meta = read_json(sidecar_path(path))

    def member() -> Classifier:
        return build_model(meta["arch"], tuple(meta["shape"]), int(meta["num_classes"]), **meta.get("arch_params", {}))

    spec = meta.get("ensemble")
    model = (
        member()
        if spec is None
        else Ensemble([member() for _ in range(int(spec["members"]))], spec["aggregation"], spec.get("info"))
    )
    state = load_file(str(path), device=str(device))
    model.load_state_dict(state)
    if spec is not None and spec.get("stages"):
        model.stages = load_file(str(Path(path).parent / spec["stages"]), device=str(device))
    return model.to(device), meta
