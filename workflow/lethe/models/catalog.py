"""Architecture names, torch-free for the Snakefile; tests check they match the registry.

An architecture is one of the built-in :data:`ARCHITECTURE_NAMES` or ``timm-NAME``: any
model of timm (``NAME`` as ``timm.list_models()`` spells it), optionally with a pretrained
tag (``timm-NAME.TAG``, e.g. ``timm-vit_tiny_patch16_224.augreg_in21k``) that loads those
weights (:func:`lethe.models.registry.build_timm`). The name alone determines the model,
because it is all that a checkpoint's sidecar and the rules pass on. ``timm-``, not
``timm:``: architecture names become folder and file names (``results/models/DATASET/ARCH``),
where ``:`` breaks on some file systems.

:func:`arch_problem` checks a name without importing torch: the ``timm-`` spelling by a
pattern, the model's existence by reading timm's source for its registered entry points
(tens of milliseconds, no import). Only a name that reading does not find (a deprecated
alias, a timm that registers its models differently) or a name with a pretrained tag
imports timm (seconds) to ask it; configs without ``timm-`` names never do.
"""

from __future__ import annotations

import re
from functools import cache

ARCHITECTURE_NAMES = ("mlp", "cnn", "resnet18", "allcnn")

TIMM_PREFIX = "timm-"
# A timm model name, optionally with a pretrained tag: letters, digits and underscores.
TIMM_NAME = r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?"
TIMM_PATTERN = re.escape(TIMM_PREFIX) + TIMM_NAME
# Snakemake's wildcard constraint of {arch}: a built-in name or a timm- name (never a '/').
ARCH_CONSTRAINT = "|".join([*ARCHITECTURE_NAMES, TIMM_PATTERN])


def is_timm_arch(name: str) -> bool:
    """Whether ``name`` is spelled ``timm-NAME`` or ``timm-NAME.TAG`` (not whether timm has it)."""
    return re.fullmatch(TIMM_PATTERN, str(name)) is not None


def needs_timm(name: str) -> bool:
    """Whether building ``name`` imports timm (``resnet18`` and every ``timm-`` name)."""
    return name == "resnet18" or is_timm_arch(name)


def split_timm_arch(name: str) -> tuple[str, str | None]:
    """``timm-NAME.TAG`` -> (``NAME``, ``TAG``); (``NAME``, None) without a tag."""
    if not is_timm_arch(name):
        raise ValueError(f"{name!r} is not a timm architecture (timm-NAME or timm-NAME.TAG)")
    model, _, tag = name[len(TIMM_PREFIX) :].partition(".")
    return model, tag or None


@cache
def _registered_in_source() -> frozenset[str]:
    """The model names timm's source registers (``@register_model`` above ``def NAME(``), read without importing it."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("timm")
    if spec is None or spec.origin is None:
        return frozenset()
    pattern = re.compile(r"@register_model\s*\n\s*def\s+(\w+)\s*\(")
    names: set[str] = set()
    for path in (Path(spec.origin).parent / "models").glob("*.py"):
        try:
            names.update(pattern.findall(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return frozenset(names)


def _timm_problem(name: str) -> str | None:
    """What is wrong with the timm architecture ``name`` (pattern already matched), or None."""
    import importlib.util

    model, tag = split_timm_arch(name)
    if tag is None and model in _registered_in_source():
        return None
    if importlib.util.find_spec("timm") is None:
        return f"{name!r} names a timm model, and timm is not installed (pip install timm)"
    import timm

    if not timm.is_model(model):
        return (
            f"{name!r}: timm has no model {model!r}; find its names with timm.list_models('vit_*') "
            f"(any pattern; timm.list_pretrained() for NAME.TAG) and write timm-NAME, e.g. timm-vit_tiny_patch16_224"
        )
    if tag is not None:
        tags = sorted(n.partition(".")[2] for n in timm.list_pretrained(model) if n.partition(".")[0] == model)
        if tag not in tags:
            known = f"its tags: {tags}" if tags else "it has no pretrained weights"
            return f"{name!r}: timm model {model!r} has no pretrained tag {tag!r}; {known} (or leave the tag out)"
    return None


def arch_problem(name) -> str | None:
    """Why ``name`` is not an architecture (one line, naming it and what to write), or None if it is."""
    if name in ARCHITECTURE_NAMES:
        return None
    text = str(name)
    if text.startswith("timm:"):
        return (
            f"{text!r}: write {TIMM_PREFIX + text[len('timm:') :]!r} (timm-NAME; architecture names become "
            f"folder and file names, where ':' is not allowed)"
        )
    if is_timm_arch(text):
        return _timm_problem(text)
    if text.startswith(TIMM_PREFIX):
        return f"{text!r} is not a timm architecture name: timm-NAME or timm-NAME.TAG, NAME and TAG of letters, digits and _"
    return f"unknown architecture {name!r}; known: {list(ARCHITECTURE_NAMES)} or timm-NAME for any timm model"
