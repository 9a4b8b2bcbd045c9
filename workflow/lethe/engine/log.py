"""Progress logging to stderr and, when a rule runs, to its log file."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    """Send ``lethe`` log records to stderr and, if given, to ``log_file`` (overwritten)."""
    root = logging.getLogger("lethe")
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        root.addHandler(handler)
    root.propagate = False


@contextmanager
def logged(log_file: str | Path) -> Iterator[None]:
    """Log to stderr and ``log_file`` for the duration; a failure's traceback goes to both."""
    setup_logging(log_file)
    log = logging.getLogger("lethe")
    try:
        yield
    except BaseException:
        log.exception("failed")
        raise
