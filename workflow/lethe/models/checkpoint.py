"""Checkpoints: weights in safetensors, everything else in a JSON sidecar.

Loading never unpickles: the sidecar names the architecture, which is rebuilt from
the registry, and the tensors come from the safetensors file.

Ensembles (:class:`lethe.models.ensemble.Ensemble`, SISA's sharded model): the sidecar's
``ensemble`` entry (members, aggregation, info) says so, every member is rebuilt from
``arch``, and the weights load as one state dict. An ensemble's extra tensors
(``Ensemble.stages``: SISA's assignment and per-stage checkpoints) go to a second
safetensors file only when ``save_checkpoint`` is given ``stages_path``; the sidecar then
names it (relative to the checkpoint's folder) and ``load_checkpoint`` loads it too. A
single model may carry ``stages`` the same way (the ERM original's class masks): the
sidecar's top-level ``stages`` names the file, and loading sets ``model.stages``.

Integrity: the sidecar records each safetensors file's sha256 (``sha256``,
``stages_sha256``) and loading checks them, so a truncated, damaged or replaced file
raises :class:`lethe.io.CorruptFileError` naming the file and the rule that rebuilds it.
Sidecars without hashes load unchecked.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save_file

from lethe.io import CorruptFileError, atomic_path, read_checked, read_json_checked, sha256_file, write_json
from lethe.models.ensemble import Ensemble
from lethe.models.registry import Classifier, build_model


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def checkpoint_rebuild_hint(path: str | Path) -> str:
    """How to make the checkpoint ``path`` (or its SISA stages file) again: which rule, what to delete."""
    path = Path(path)
    if path.name.endswith(".stages.safetensors"):
        path = path.with_name(path.name.removesuffix(".stages.safetensors") + ".safetensors")
    rule = {"original": "train_original", "sisa_original": "train_sisa", "erm_original": "train_erm"}.get(
        path.stem, "unlearn"
    )
    return (
        f"rule {rule} writes it: delete {path} and {sidecar_path(path)} and rerun, "
        f"or rerun with `snakemake --forcerun {path}` (that job and what depends on it)"
    )


def _load_tensors(path: Path, sha256: str | None, sidecar: Path, hint: str, device) -> dict[str, torch.Tensor]:
    data = read_checked(path, sha256, sidecar, hint)
    try:
        tensors = load_bytes(data)
    except SafetensorError as error:
        raise CorruptFileError(path, f"truncated or not a safetensors file: {error}", hint) from error
    return {k: v.to(device) for k, v in tensors.items()}


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict | None = None) -> None:
    """Write ``tensors`` (copied to the CPU) to ``path`` as safetensors, atomically."""
    with atomic_path(path) as tmp:
        save_file(_cpu(tensors), str(tmp), metadata=metadata)


def model_meta(arch: str, dataset, seed: int) -> dict:
    """What a trained model's sidecar says first: its architecture, input shape, classes, dataset
    (name and sha256) and seed; ``dataset`` a :class:`lethe.data.tensors.Dataset`."""
    return {
        "arch": arch,
        "shape": dataset.manifest["shape"],
        "num_classes": dataset.num_classes,
        "classes": dataset.classes,
        "dataset": dataset.name,
        "dataset_sha256": dataset.manifest["sha256"],
        "seed": seed,
    }


def save_checkpoint(
    model: Classifier | Ensemble, path: str | Path, meta: dict, stages_path: str | Path | None = None
) -> None:
    """Write ``path`` (safetensors) and ``path`` with .json (meta must name arch, shape, num_classes).

    For an :class:`Ensemble` the sidecar also gets its ``ensemble`` spec (``arch`` names
    the members' architecture). ``stages_path`` (optional, same folder as ``path``)
    receives ``model.stages``, an ensemble's or a single model's.
    """
    for key in ("arch", "shape", "num_classes"):
        if key not in meta:
            raise ValueError(f"checkpoint metadata needs {key!r}")
    meta = dict(meta)
    if isinstance(model, Ensemble):
        meta["ensemble"] = model.spec()
    if stages_path is not None:
        if not getattr(model, "stages", None):
            raise ValueError(f"save_checkpoint: {path}: stages_path given but the model has no stages")
        if Path(stages_path).resolve().parent != Path(path).resolve().parent:
            raise ValueError(f"save_checkpoint: stages file {stages_path} must sit beside {path}")
        save_tensors(model.stages, stages_path)
        (meta["ensemble"] if isinstance(model, Ensemble) else meta)["stages"] = Path(stages_path).name
        meta["stages_sha256"] = sha256_file(stages_path)
    save_tensors(model.state_dict(), path, metadata={"arch": str(meta["arch"])})
    meta["sha256"] = sha256_file(path)
    write_json(sidecar_path(path), meta)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[Classifier | Ensemble, dict]:
    """Rebuild the model named by the sidecar (an :class:`Ensemble` where it says so) and load its weights.

    The weights (and an ensemble's stages) are checked against the sha256 the sidecar records.
    """
    path = Path(path)
    sidecar = sidecar_path(path)
    hint = checkpoint_rebuild_hint(path)
    meta = read_json_checked(sidecar, "sidecar", hint)

    def member() -> Classifier:  # the checkpoint's weights replace any pretrained ones: none are downloaded
        return build_model(
            meta["arch"],
            tuple(meta["shape"]),
            int(meta["num_classes"]),
            pretrained=False,
            **meta.get("arch_params", {}),
        )

    spec = meta.get("ensemble")
    model = (
        member()
        if spec is None
        else Ensemble([member() for _ in range(int(spec["members"]))], spec["aggregation"], spec.get("info"))
    )
    model.load_state_dict(_load_tensors(path, meta.get("sha256"), sidecar, hint, device))
    stages_name = spec.get("stages") if spec is not None else meta.get("stages")
    if stages_name:
        model.stages = _load_tensors(path.parent / stages_name, meta.get("stages_sha256"), sidecar, hint, device)
    return model.to(device), meta
