"""Unlearning methods: one module per method behind one registry and one signature.

``unlearn(model, data, params, ctx) -> model`` where ``data`` is an
:class:`~lethe.methodkit.base.UnlearningData` holding only what the method declared it
needs in :mod:`lethe.methods.catalog`.

Each module's docstring is the method's reference: the source it follows, every choice
where the paper and its code disagree or are silent and what Lethe does, and its known
limits. ``docs/methods.md`` collects them with the catalogue's facts (``lethe docs``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from lethe.methods.catalog import METHODS, MethodInfo, merge_params, method_info

__all__ = ["METHODS", "MethodInfo", "get_method", "merge_params", "method_info"]


def get_method(name: str) -> Callable:
    """The ``unlearn`` function of method ``name``."""
    method_info(name)  # raises a clear KeyError for unknown names
    return importlib.import_module(f"lethe.methods.{name}").unlearn
