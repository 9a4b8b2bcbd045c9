"""One look for every figure: a colour per method family, a marker per method, fonts, saving, placeholders.

Figures are made with :class:`matplotlib.figure.Figure` directly (never pyplot), so no
backend or global state is touched, and each is written as vector PDF (the paper) and
PNG (Snakemake's HTML report). A method's colour is its family's
(:data:`lethe.methods.catalog.FAMILIES`, ``MethodInfo.family``; a name the catalogue does
not know is of family ``other``) and its marker its place within the family, so a method
looks the same in every figure and every run, whichever methods the config picks;
``original`` (grey cross) and ``retrain`` (black star) are the references, and methods a
figure does not single out are drawn light grey (:data:`BACKGROUND`). Every font is
:data:`MIN_PT` or more, and figures are drawn at the size the paper prints them
(:func:`lethe.report.catalog.figure_size`), so a point here is a point on paper. PDFs
carry no creation date, so a rerun with the same results writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from lethe.io import atomic_path
from lethe.methods.catalog import FAMILIES, METHODS
from lethe.plan.paths import ORIGINAL

PathLike = str | Path

MIN_PT = 7  # the smallest type on paper
RC = {
    "font.size": MIN_PT,
    "axes.titlesize": MIN_PT,
    "axes.labelsize": MIN_PT,
    "xtick.labelsize": MIN_PT,
    "ytick.labelsize": MIN_PT,
    "legend.fontsize": MIN_PT,
    "figure.titlesize": MIN_PT,
    "legend.handletextpad": 0.3,
    "legend.columnspacing": 1.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.0,
    "lines.markersize": 4,
    "errorbar.capsize": 1.5,
    "pdf.fonttype": 42,  # TrueType: text stays text in the PDF
    # No tight bbox: the file is exactly the figure's size, the size the paper prints it at.
    "figure.constrained_layout.h_pad": 0.03,
    "figure.constrained_layout.w_pad": 0.03,
}
PNG_DPI = 150

# One colour per family (FAMILIES' order; Okabe–Ito's colour-blind-safe eight, then two more), grey kept
# for the original and for the methods a figure does not single out.
FAMILY_COLORS = dict(
    zip(
        FAMILIES,
        ["#8c564b", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6a3d9a", "#b8a000", "#e7298a"],
        strict=True,
    )
)
MARKERS = ["o", "s", "^", "D", "v", "P", "<", ">", "h"]
REFERENCE_STYLES = {
    ORIGINAL: {"color": "#7f7f7f", "marker": "X"},
    "retrain": {"color": "#000000", "marker": "*"},
}
REFERENCES = tuple(REFERENCE_STYLES)
BACKGROUND = "#c8c8c8"  # the methods a figure does not single out
RETRAIN_BAND = {"color": "#000000", "alpha": 0.12, "linewidth": 0}
SERIES = {"accuracy": "#1f77b4", "forget": "#2ca02c", "mia": "#d62728"}  # FNN curves: one colour per quantity
# Dot plots show the scenarios as series on one row per method: a colour and marker per scenario.
SCENARIO_STYLES = [
    {"color": "#000000", "marker": "o"},
    {"color": "#D55E00", "marker": "s"},
    {"color": "#0072B2", "marker": "^"},
    {"color": "#009E73", "marker": "D"},
    {"color": "#CC79A7", "marker": "v"},
    {"color": "#E69F00", "marker": "P"},
]


def family(method: str) -> str:
    """``method``'s family (a key of FAMILIES); ``other`` for a name the catalogue does not know."""
    info = METHODS.get(method)
    return info.family if info is not None and info.family in FAMILIES else "other"


def method_style(method: str) -> dict:
    """``{"color", "marker"}`` of ``method``: its family's colour, the marker of its place in the family
    (the catalogue's order; unknown names after, by a stable sum of their characters, not hash())."""
    if method in REFERENCE_STYLES:
        return dict(REFERENCE_STYLES[method])
    fam = family(method)
    members = [m for m in METHODS if family(m) == fam and m not in REFERENCE_STYLES]
    i = members.index(method) if method in members else len(members) + sum(map(ord, method))
    return {"color": FAMILY_COLORS[fam], "marker": MARKERS[i % len(MARKERS)]}


@contextmanager
def style():
    """The figures' rc settings, for the duration of one figure."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure ``width`` × ``height`` inches on an Agg canvas (so its text can be measured before saving)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def sized_figure(name: str, height: float) -> Figure:
    """A figure for catalogue entry ``name`` at the width the paper prints it, ``height`` inches high
    (capped at its printed height): :func:`lethe.report.catalog.figure_size`."""
    from lethe.report.catalog import figure_size

    return new_figure(*figure_size(name, height))


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
        ax.text(0.5, 0.32, message, ha="center", va="center", fontsize=MIN_PT, wrap=True, transform=ax.transAxes)
        return save(fig, paths)


def legend_handles(methods: Sequence[str], line: bool = False) -> tuple[list, list[str]]:
    """Legend entries for ``methods`` (marker only, or with ``line`` a line through the marker)."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], linestyle="-" if line else "none", markersize=6 if m == "retrain" else 4, **method_style(m))
        for m in methods
    ]
    return handles, list(methods)
