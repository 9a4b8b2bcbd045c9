"""One look for every figure: a fixed colour and marker per method, fonts, saving, placeholders.

Figures are made with :class:`matplotlib.figure.Figure` directly (never pyplot), so no
backend or global state is touched, and each is written as vector PDF (the paper) and
PNG (Snakemake's HTML report). A method's colour and marker come from its position in
the method catalogue, so a method looks the same in every figure and every run,
whichever methods the config picks; ``original`` (grey cross) and ``retrain`` (black
star) are the references. PDFs carry no creation date, so a rerun with the same results
writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from lethe.io import atomic_path
from lethe.methods.catalog import METHODS
from lethe.plan.paths import ORIGINAL

PathLike = str | Path

RC = {
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.0,
    "lines.markersize": 4,
    "errorbar.capsize": 1.5,
    "pdf.fonttype": 42,  # TrueType: text stays text in the PDF
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
}
PNG_DPI = 150

# tab10 without its grey (kept for the original model).
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]
MARKERS = ["o", "s", "^", "D", "v", "P", "<", ">", "h"]
REFERENCE_STYLES = {
    ORIGINAL: {"color": "#7f7f7f", "marker": "X"},
    "retrain": {"color": "#000000", "marker": "*"},
}
RETRAIN_BAND = {"color": "#000000", "alpha": 0.12, "linewidth": 0}
SERIES = {"accuracy": "#1f77b4", "forget": "#2ca02c", "mia": "#d62728"}  # FNN curves: one colour per quantity


def method_style(method: str) -> dict:
    """``{"color", "marker"}`` of ``method``: fixed by its place in the catalogue (unknown names last)."""
    if method in REFERENCE_STYLES:
        return dict(REFERENCE_STYLES[method])
    others = [m for m in METHODS if m not in REFERENCE_STYLES]
    i = others.index(method) if method in others else len(others) + sum(map(ord, method))  # stable, not hash()
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[(i // len(PALETTE)) % len(MARKERS)]}


@contextmanager
def style():
    """The figures' rc settings, for the duration of one figure."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


def save(fig: Figure, paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """Write ``fig`` to every path (format from the suffix: .pdf, .png, .svg), atomically."""
    written = []
    for path in _paths(paths):
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in ("pdf", "png", "svg"):
            raise ValueError(f"figure path {path}: unknown format {fmt!r}; use .pdf, .png or .svg")
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Date": None} if fmt == "svg" else {}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=PNG_DPI, metadata=metadata)
        written.append(path)
    return written


def placeholder(title: str, message: str, paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """A small figure that says why there is nothing to plot (so the paper and report still build)."""
    with style():
        fig = new_figure(4.0, 1.2)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.72, title, ha="center", va="center", fontsize=8, weight="bold", transform=ax.transAxes)
        ax.text(0.5, 0.32, message, ha="center", va="center", fontsize=7, wrap=True, transform=ax.transAxes)
        return save(fig, paths)


def legend_handles(methods: Sequence[str]) -> tuple[list, list[str]]:
    """Marker-only legend entries for ``methods`` (for a figure-level legend)."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], linestyle="none", markersize=6 if m == "retrain" else 4, **method_style(m)) for m in methods
    ]
    return handles, list(methods)
