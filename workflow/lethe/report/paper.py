"""Build the paper: copy paper/, the declared generated files and figures into a build folder, run latexmk.

Nothing is written into paper/. A failed build raises with LaTeX's own error lines and
leaves no PDF behind.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from lethe.io import atomic_path

log = logging.getLogger(__name__)


class LatexError(RuntimeError):
    """latexmk failed; the message carries LaTeX's error lines."""


def latex_errors(log_text: str, context: int = 3) -> str:
    """The lines of a LaTeX log that start with '!' and a few lines after each."""
    lines = log_text.splitlines()
    picked = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r".*:\d+: ", line):
            picked.extend(lines[i : i + context + 1])
            picked.append("...")
    return "\n".join(picked[:80]) or "\n".join(lines[-40:])


def build_paper(
    source_dir: str | Path,
    generated: Iterable[str | Path],
    build_dir: str | Path,
    pdf_out: str | Path,
    main: str = "main.tex",
    figures: Iterable[str | Path] = (),
) -> Path:
    """Compile ``source_dir/main`` with the ``generated`` files in ``generated/`` and the
    ``figures`` in ``figures/`` beside it; copy the PDF to ``pdf_out``.

    Only the files named are copied, never a whole folder: a stale or undeclared figure
    or table that lies in the results cannot reach the PDF (LaTeX fails on its name).
    """
    if shutil.which("latexmk") is None:
        raise LatexError(
            "latexmk is not installed: run `make setup` (Debian: apt-get install latexmk texlive-latex-extra ...)"
        )
    source_dir, build_dir = Path(source_dir), Path(build_dir)
    Path(pdf_out).unlink(missing_ok=True)  # a failed build must not leave a stale PDF behind
    if build_dir.exists():
        shutil.rmtree(build_dir)
    shutil.copytree(source_dir, build_dir)
    for folder, files in (("generated", generated), ("figures", figures)):
        (build_dir / folder).mkdir(exist_ok=True)
        for path in map(Path, files):
            shutil.copyfile(path, build_dir / folder / path.name)
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", main]
    log.info("running %s in %s", " ".join(cmd), build_dir)
    proc = subprocess.run(cmd, cwd=build_dir, capture_output=True, text=True)
    pdf = build_dir / Path(main).with_suffix(".pdf")
    if proc.returncode != 0 or not pdf.exists():
        log_file = build_dir / Path(main).with_suffix(".log")
        text = log_file.read_text(errors="replace") if log_file.exists() else proc.stdout + proc.stderr
        raise LatexError(f"LaTeX build of {source_dir / main} failed (log: {log_file}):\n{latex_errors(text)}")
    with atomic_path(pdf_out) as tmp:
        shutil.copyfile(pdf, tmp)
    log.info("wrote %s", pdf_out)
    return Path(pdf_out)
