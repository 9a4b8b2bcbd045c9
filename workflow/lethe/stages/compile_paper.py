"""Rule compile_paper: latexmk over paper/ with the generated files and figures."""

from __future__ import annotations

from pathlib import Path

from lethe.report.paper import build_paper


def compile_paper(
    source_dir: str | Path,
    generated_dir: str | Path,
    build_dir: str | Path,
    pdf_out: str | Path,
    figures_dir: str | Path | None = None,
) -> Path:
    return build_paper(source_dir, generated_dir, build_dir, pdf_out, figures_dir=figures_dir)
