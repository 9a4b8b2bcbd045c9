"""Checkpoints: weights in safetensors, everything else in a JSON sidecar.

Loading never unpickles: the sidecar names the architecture, which is rebuilt from
the registry, and the tensors come from the safetensors file.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from lethe.io import atomic_path, read_json, write_json
from lethe.models.registry import Classifier, build_model


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def save_checkpoint(model: Classifier, path: str | Path, meta: dict) -> None:
    """Write ``path`` (safetensors) and ``path`` with .json (meta must name arch, shape, num_classes)."""
    for key in ("arch", "shape", "num_classes"):
        if key not in meta:
            raise ValueError(f"checkpoint metadata needs {key!r}")
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"arch": str(meta["arch"])})
    write_json(sidecar_path(path), meta)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[Classifier, dict]:
    """Rebuild the model named by the sidecar and load its weights."""
    meta = read_json(sidecar_path(path))
    model = build_model(meta["arch"], tuple(meta["shape"]), int(meta["num_classes"]), **meta.get("arch_params", {}))
    state = load_file(str(path), device=str(device))
    model.load_state_dict(state)
    return model.to(device), meta
