"""Atomic file writing (a reader never sees a half-written result) and checked reading.

Every file written through :func:`atomic_path` gets the mode a plain ``open(path, "w")``
would give it (0666 less the umask: 0644 under the usual umask 022), whatever the writer
does to its temporary file. :func:`read_checked` reads a file whole and compares its
sha256 with the one recorded when it was written; a damaged file raises
:class:`CorruptFileError`, which names the file, what is wrong and how to rebuild it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class CorruptFileError(RuntimeError):
    """A result file is missing, unreadable, unparseable or not what was written (sha256).

    ``path`` is the file, ``problem`` what is wrong with it, ``rebuild`` how to make it again.
    """

    def __init__(self, path: str | Path, problem: str, rebuild: str):
        self.path = Path(path)
        self.problem = problem
        self.rebuild = rebuild
        super().__init__(f"{path}: {problem}. To rebuild it: {rebuild}")


def _short(digest: str) -> str:
    return f"{digest[:12]}…"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checked(path: str | Path, sha256: str | None, recorded_in: str | Path, rebuild: str) -> bytes:
    """The bytes of ``path``, once its sha256 matches ``sha256`` (recorded in ``recorded_in``).

    ``sha256`` None: not checked. The file is read
    once: callers parse the returned bytes instead of reading it again.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise CorruptFileError(path, f"cannot be read ({error.strerror or error})", rebuild) from error
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise CorruptFileError(
                path,
                f"sha256 {_short(actual)} does not match the one recorded in {recorded_in} ({_short(sha256)}); "
                f"the file is truncated, damaged or was rewritten since ({len(data)} bytes)",
                rebuild,
            )
    return data


def read_json_checked(path: str | Path, what: str, rebuild: str) -> Any:
    """``path`` parsed as JSON; :class:`CorruptFileError` (naming ``what`` it is) if it cannot be."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise CorruptFileError(path, f"not a readable JSON {what} ({reason})", rebuild) from error


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    The result gets mode 0666 less the umask, as a plain ``open`` would give it: set after
    the writer ran, since writers may replace the temporary file (mkstemp makes it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result to ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))


def read_json(path: str | Path) -> Any:
    with open(path) as handle:
        return json.load(handle)
