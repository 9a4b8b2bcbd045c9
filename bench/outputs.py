"""The digest of a finished run's outputs, without the fields that measure time.

A behaviour-preserving change (a refactor, a move, a faster loop) must leave the science
untouched: the same models, populations and metrics. Run the workflow before and after the
change, each in its own checkout, then compare the two listings this prints::

    python -m bench outputs /path/to/before > before.txt
    python -m bench outputs /path/to/after > after.txt
    diff before.txt after.txt && echo identical

It lists the sha256 of every file under ``results/`` that a job computes (data, forget sets,
models and their sidecars, reference and shadow models, populations, tuned values, metrics),
one line each, and last the digest of the whole listing. Binary files are hashed as they are.
A JSON file is hashed after removing every key that measures time (:data:`TIME_KEYS`, and any
key holding ``_seconds``, such as ``eval_seconds_by_family``) and with its keys sorted, since wall-clock times differ between any
two runs; every other value, NaN included, must match.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

FOLDERS = ("data", "forget_sets", "models", "reference", "shadow", "population", "tuned", "metrics")
TIME_KEYS = frozenset({"seconds", "time_ratio_to_retrain"})


def timeless(value):
    """``value`` without the keys that measure time, recursively."""
    if isinstance(value, dict):
        return {k: timeless(v) for k, v in value.items() if k not in TIME_KEYS and "_seconds" not in k}
    if isinstance(value, list):
        return [timeless(v) for v in value]
    return value


def file_digest(path: Path) -> str:
    if path.suffix == ".json":
        data = json.dumps(timeless(json.loads(path.read_text())), sort_keys=True).encode()
    else:
        data = path.read_bytes()
    return hashlib.sha256(data).hexdigest()


def listing(root: Path) -> list[tuple[str, str]]:
    """(sha256, path relative to ``root``) of every computed file under ``root/results``."""
    rows = []
    for folder in FOLDERS:
        for path in sorted((root / "results" / folder).rglob("*")):
            if path.is_file():
                rows.append((file_digest(path), path.relative_to(root).as_posix()))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", nargs="?", default=".", help="the checkout whose results/ to list (default: .)")


def main(args: argparse.Namespace, argv: list[str] | None = None) -> None:
    rows = listing(Path(args.root))
    text = "".join(f"{digest}  {path}\n" for digest, path in rows)
    print(text, end="")
    print(f"{hashlib.sha256(text.encode()).hexdigest()}  ({len(rows)} files)")
