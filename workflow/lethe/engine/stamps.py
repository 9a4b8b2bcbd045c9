"""The code a rule's results depend on: the ``lethe`` modules its stage imports, transitively.

Snakemake's ``code`` rerun trigger sees only a rule's own body; the package code that
its stage (``lethe.stages.NAME``) runs must be declared, so that editing it reruns exactly
the jobs that import it. This module derives that code from the source (``ast``), without importing anything,
so the workflow parses without torch. Every ``import`` statement counts, including those
inside functions: an import that runs only on some code paths is still a dependency of
the results. A rule declares it as one input, a stamp (:func:`code_stamp`) listing each
module with its sha256.

Paths are relative (to the working directory, normally the repository root), so a
finished checkout copied elsewhere, with its ``results/`` and ``.snakemake/``, is
still up to date.
"""

from __future__ import annotations

import ast
import os
from functools import cache
from pathlib import Path

PACKAGE = "lethe"


def module_file(root: Path, name: str) -> Path | None:
    """The source file of module ``name`` (``lethe.x.y``) under ``root`` (the folder
    holding the package), or None when it is not one of the package's modules."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _packages(name: str) -> list[str]:
    """``lethe.a.b`` -> ``lethe``, ``lethe.a``: the packages whose ``__init__`` runs first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@cache
def _imports(path: Path, name: str) -> frozenset[str]:
    """Modules of the package that ``path`` (module ``name``) imports anywhere in its source."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            # `from lethe.x import y` imports module lethe.x.y when y is one
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(m for m in found if m == PACKAGE or m.startswith(PACKAGE + "."))


def closure(root: Path, names: list[str] | tuple[str, ...]) -> list[Path]:
    """Source files of modules ``names`` and of everything of the package they import,
    transitively (packages' ``__init__`` included), sorted."""
    root = Path(root)
    seen: dict[str, Path] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(root, name)
        if path is None:
            continue  # a name imported from a module (a function, a class), not a module
        seen[name] = path
        todo.extend(_packages(name))
        todo.extend(_imports(path, name))
    return sorted(set(seen.values()))


def stage_module(stage: str) -> str:
    """The module of rule stage ``stage``: ``lethe.stages.STAGE``."""
    return f"{PACKAGE}.stages.{stage}"


def code_inputs(
    root: Path, stage: str | None = None, modules: tuple[str, ...] = (), start: Path | None = None
) -> list[str]:
    """A rule's code inputs: the closure of ``stage``'s module and ``modules``, as paths
    relative to ``start`` (default: the working directory)."""
    names = [*([stage_module(stage)] if stage else []), *modules]
    start = Path.cwd() if start is None else Path(start)
    return [os.path.relpath(path, start) for path in closure(root, names)]


# --- one stamp file per rule (and method) instead of every module as an input ----------
#
# Listing a job's ~25 modules as its inputs made Snakemake's scheduler hash and stat them
# for every waiting job each time it chose jobs to run, which took most of its CPU (the
# default run's hundreds of waiting jobs). A stamp condenses them: one small JSON file per
# (stage, extra modules) listing each module with the sha256 of its source, rewritten
# only when one of them changed, is the job's single code input. Editing a module
# rewrites the stamps that list it, so exactly the jobs that import it rerun (the stamp is
# newer than their outputs); unchanged stamps keep their time stamps, so a finished
# checkout copied with its times kept stays up to date.

STAMPS = "results/code"
# Every job runs through this module (lethe.engine.job: its description, log, the worker client), so
# every stamp lists it and what it imports.
RUNNER = "lethe.engine.job"


def stamp_name(stage: str, modules: tuple[str, ...] = ()) -> str:
    """The stamp's file name: the stage, then each extra module's last name part."""
    return "+".join([stage, *(m.rsplit(".", 1)[-1] for m in modules)]) + ".json"


def stamp_content(root: Path, stage: str, modules: tuple[str, ...] = (), start: Path | None = None) -> dict:
    """What a stamp records: every module of the stage's closure (the runner's included),
    with their sha256."""
    import hashlib

    start = Path.cwd() if start is None else Path(start)
    files = closure(root, [stage_module(stage), RUNNER, *modules])
    return {os.path.relpath(path, start): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def write_stamp(path: Path, content: dict) -> list[str] | None:
    """Write the stamp ``path`` if its content differs; the files whose hash changed (none
    when it was up to date; None for a new stamp)."""
    import json

    from lethe.io import write_atomic

    text = json.dumps({"code": content}, indent=1, sort_keys=True) + "\n"
    try:
        old = json.loads(path.read_text()).get("code", {})
    except (OSError, ValueError):
        old = None
    if old == content:
        return []
    write_atomic(path, lambda tmp: tmp.write_text(text))
    if old is None:
        return None
    return sorted(name for name in set(content) | set(old) if content.get(name) != old.get(name))


def code_stamp(
    root: Path, stage: str, modules: tuple[str, ...] = (), start: Path | None = None, folder: str = STAMPS
) -> tuple[str, list[str] | None]:
    """A rule's code input: (the stamp's relative path, the files that changed since it was
    written; None when it is new)."""
    start = Path.cwd() if start is None else Path(start)
    path = start / folder / stamp_name(stage, modules)
    changed = write_stamp(path, stamp_content(root, stage, modules, start))
    return os.path.relpath(path, start), changed
