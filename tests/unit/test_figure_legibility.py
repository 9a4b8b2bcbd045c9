"""Figures read at the size the paper prints them, with every catalogue method and a few unknown ones.

Each figure drawn from results (and the saliency panels, from synthetic maps) is drawn from
synthetic results of 30 methods (the catalogue's, four names it does not know, the original)
over three scenarios (a class, two classes, a random sample), and :func:`problems` checks with
matplotlib's renderer: (a) no text under 7 pt at the printed size
(:func:`lethe.report.catalog.print_scale`), (b) no two texts over each other, (c) no name
(annotation) over a marker, (d) no axes with more than :data:`MAX_SERIES` coloured series and
no legend with more entries. The checker is shown to fail on figures made bad on purpose.
Captions: a caption names only the metrics its figure draws.
"""

from __future__ import annotations

import colorsys
import itertools
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.text import Annotation, Text

from lethe.methods.catalog import METHODS
from lethe.metrics.catalog import GAPS, METRICS, MIA_METRICS
from lethe.metrics.stats import avg_gap
from lethe.report import figures
from lethe.report.aggregate import tidy_rows
from lethe.report.catalog import FIGURES, TEXT_HEIGHT_IN, TEXT_WIDTH_IN, figure_latex, print_scale
from lethe.report.style import MIN_PT, new_figure, style

pytestmark = pytest.mark.slow  # draws every figure with 30 methods

MAX_SERIES = 8
UNKNOWN = ["mystery_a", "mystery_b", "zz_method", "another_one"]
METHOD_NAMES = ["original", *METHODS, *UNKNOWN]
SCENARIOS = {  # forget set -> (name, kind, classes)
    "class3": ("class3", "classes", [3]),
    "classes2-0": ("classes2", "random_classes", [1, 5]),
    "random10": ("random10", "random_samples", None),
}
FPRS = [0.001, 0.01, 0.1, 1.0]


def _record(forget_set: str, method: str, seed: int, rng: np.random.Generator) -> dict:
    classes = SCENARIOS[forget_set][2]
    u = lambda lo=0.0, hi=1.0: float(rng.uniform(lo, hi))  # noqa: E731
    retrain = method == "retrain"
    metrics = {
        "acc_forget": 0.0 if retrain and classes else u(),
        "acc_retain": u(0.8, 1),
        "acc_test": u(0.8, 1),
        "acc_test_retained": u(0.8, 1),
        "acc_test_forgotten": u() if classes else None,
        "probe_fewshot_acc_forgotten": u() if classes else None,
        "relearn_epochs": int(rng.integers(0, 12)),
        "relearn_reached": float(rng.random() < 0.8),
        "relearn_target": 0.9,
        "unlearn_seconds": u(0.001, 100) * (len(classes) if classes else 1),
        "time_ratio_to_retrain": None if method == "original" else (1.0 if retrain else u(0.001, 2)),
        "diverged": float(method == "mystery_a"),
        "unchanged": float(method == "zz_method"),
        "lira_online_auc_audit": u(0.5, 0.7),
    }
    for key in MIA_METRICS:
        metrics[key] = u()
        if METRICS[key].power and METRICS[key].power not in metrics:
            acc = u(0.45, 0.7)
            metrics.update({METRICS[key].power: acc, METRICS[key].power + "_lo": acc - 0.06})
            metrics.update({METRICS[key].power + "_hi": acc + 0.06, METRICS[key].power + "_n": 200})
    curve = np.linspace(metrics["acc_forget"], 0.95, metrics["relearn_epochs"] + 1).tolist()
    tpr = sorted(rng.uniform(0.001, 1, len(FPRS)).tolist())
    return {
        **_header(forget_set, method, seed),
        "metrics": metrics,
        "relearn_curve": curve,
        "lira_roc": {"fpr": FPRS, "online_audit": tpr, "online_forget": tpr},
        "confusion_test": (np.diag([10] * 10) + rng.integers(0, 3, (10, 10))).tolist(),
    }


def _header(forget_set: str, method: str, seed: int) -> dict:
    """The keys every synthetic metrics record carries (a run of ``method`` on ``forget_set``)."""
    name, kind, classes = SCENARIOS[forget_set]
    return {
        "dataset": "digits",
        "arch": "mlp",
        "seed": seed,
        "forget_set": forget_set,
        "forget_set_name": name,
        "forget_kind": kind,
        "forget_classes": classes,
        "method": method,
    }


def _population(forget_set: str, method: str, rng: np.random.Generator) -> dict:
    metrics = {}
    for key in ("fq_F", "ulira_acc", "ulira_known_acc"):
        v = float(rng.uniform(0, 1))
        metrics.update({key: v, f"{key}_lo": v - 0.05, f"{key}_hi": v + 0.05})
    return {**_header(forget_set, method, 0), "metrics": metrics}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    rng = np.random.default_rng(0)
    return [_record(fs, m, seed, rng) for fs in SCENARIOS for m in METHOD_NAMES for seed in (0, 1)]


@pytest.fixture(scope="module")
def tidy(records) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    pops = [_population(fs, m, rng) for fs in SCENARIOS for m in METHOD_NAMES if m not in ("original", "retrain")]
    frame = pd.DataFrame([row for rec in records + pops for row in tidy_rows(rec)])
    return pd.concat([frame, avg_gap(frame)], ignore_index=True)


# --------------------------------------------------------------------------- the checker


def _drawn_texts(fig) -> list[Text]:
    """The non-empty texts a draw of ``fig`` actually draws (tick labels in view, legends, titles, names)."""
    drawn: list[Text] = []
    original = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return original(self, renderer)

    Text.draw = record
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return list(dict.fromkeys(drawn))


def _grey(color) -> bool:
    r, g, b, *_ = matplotlib.colors.to_rgba(color)
    return colorsys.rgb_to_hsv(r, g, b)[1] < 0.1


def _markers(ax) -> list[tuple[float, float, float]]:
    """(x, y, radius) in display pixels of every marker drawn in ``ax``."""
    px = ax.figure.dpi / 72
    out = []
    for line in ax.get_lines():
        if line.get_visible() and line.get_marker() not in (None, "", "None", "none", "|", "_"):
            for x, y in ax.transData.transform(line.get_xydata()):
                out.append((x, y, line.get_markersize() * px / 2))
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and coll.get_visible():
            sizes = coll.get_sizes()
            for i, (x, y) in enumerate(coll.get_offset_transform().transform(coll.get_offsets())):
                size = sizes[i % len(sizes)] if len(sizes) else 36
                out.append((x, y, np.sqrt(size) * px / 2))
    return out


def _series_colours(ax) -> set[str]:
    """The colours (grey and black aside) of ax's lines and markers: one per series a reader must tell apart."""
    colours = set()
    for line in ax.get_lines():
        if line.get_visible() and not _grey(line.get_color()):
            colours.add(matplotlib.colors.to_hex(line.get_color()))
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and coll.get_visible():
            colours |= {matplotlib.colors.to_hex(c) for c in coll.get_edgecolors() if not _grey(c)}
    return colours


def problems(fig, scale: float) -> list[str]:
    """What makes ``fig`` unreadable when printed at ``scale`` times its size (empty: nothing)."""
    found = []
    texts = _drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    for t in texts:  # (a)
        if t.get_fontsize() * scale < MIN_PT - 1e-6:
            found.append(f"(a) {t.get_text()!r} is {t.get_fontsize() * scale:.1f} pt printed")
    for (t1, b1), (t2, b2) in itertools.combinations(boxes, 2):  # (b)
        if (
            b1.width
            and b2.width
            and b1.x0 + 0.5 < b2.x1
            and b2.x0 + 0.5 < b1.x1
            and b1.y0 + 0.5 < b2.y1
            and b2.y0 + 0.5 < b1.y1
        ):
            found.append(f"(b) {t1.get_text()!r} over {t2.get_text()!r}")
    for t, box in boxes:  # (c)
        ax = t.axes
        if isinstance(t, Annotation) and ax is not None:
            for x, y, r in _markers(ax):
                if box.x0 - r < x < box.x1 + r and box.y0 - r < y < box.y1 + r:
                    found.append(f"(c) {t.get_text()!r} over a marker at ({x:.0f}, {y:.0f})")
                    break
    for ax in fig.get_axes():  # (d)
        colours = _series_colours(ax)
        if len(colours) > MAX_SERIES:
            found.append(f"(d) an axes with {len(colours)} coloured series")
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.get_axes())]:
        if legend is not None and len(legend.get_texts()) > MAX_SERIES:
            found.append(f"(d) a legend of {len(legend.get_texts())} entries")
    return found


@pytest.fixture
def captured(monkeypatch):
    """The figures the drawing functions save (instead of writing them)."""
    figs = []

    def keep(fig, paths):
        figs.append(fig)
        return []

    monkeypatch.setattr(figures, "save", keep)
    return figs


def assert_legible(name: str, fig) -> None:
    size = tuple(fig.get_size_inches())
    assert size[0] == pytest.approx(FIGURES[name].width * TEXT_WIDTH_IN), "drawn at its printed width"
    assert size[1] <= FIGURES[name].height * TEXT_HEIGHT_IN + 1e-9, "no higher than printed"
    found = problems(fig, print_scale(name, size))
    assert not found, f"{name}: " + "; ".join(found[:10])


@pytest.mark.parametrize("name", sorted(figures.TABLE_FIGURES))
def test_table_figures_read_at_30_methods(name, tidy, captured):
    assert figures.TABLE_FIGURES[name](tidy, []) is True
    assert_legible(name, captured[-1])


@pytest.mark.parametrize("name", ["relearn_curves", "lira_roc"])
def test_record_figures_read_at_30_methods(name, records, captured):
    assert getattr(figures, name)(records, []) is True
    assert_legible(name, captured[-1])


def test_confusion_reads(records, captured):
    methods = ["original", "finetune", "scrub", "salun", "retrain"]
    recs = [r for r in records if r["forget_set"] == "class3"]
    assert figures.confusion_matrices(recs, methods, []) is True
    assert_legible("confusion", captured[-1])


def test_fnn_curves_read(captured):
    traj = [
        {"phase": p, "val_acc_retained": 0.97, "retain_acc": 0.99, "forget_acc": 0.9 - 0.2 * i, "mia": 0.2 + 0.1 * i}
        for i, p in enumerate(["learn", "learn", "unlearn", "unlearn"])
    ]
    runs = [
        {
            "dataset": "digits",
            "arch": "mlp",
            "seed": seed,
            "forget_set": fs,
            "params": {"scheme": scheme},
            "notes": {"trajectory": traj, "accepted": True},
        }
        for seed in (0, 1)
        for fs in ("class3", "classes2-0")
        for scheme in ("rank", "fixed")
    ]
    assert figures.fnn_curves(runs, []) is True
    assert_legible("fnn_curves", captured[-1])


def test_saliency_panels_read(captured):
    rng = np.random.default_rng(0)
    models = ["original", "finetune", "scrub", "retrain"]
    rows = [
        {
            "image": rng.random((32, 32, 3)),
            "label": f"{what} class {c}\nimage {i}",
            "maps": [rng.random((32, 32)) for _ in models],
            "pred": [c] * len(models),
            "p_true": [0.5] * len(models),
        }
        for what, c in (("forgotten", 3), ("retained", 0))
        for i in range(2)
    ]
    block = {"title": "cifar10 / resnet18", "saliency": "Grad-CAM", "models": models, "rows": rows}
    assert figures.saliency_panels([block], []) is True
    assert_legible("gradcam", captured[-1])


# --------------------------------------------------------------------------- the checker fails on bad figures


def _bad(kind: str):
    with style():
        fig = new_figure(6.0, 3.0)
        ax = fig.add_subplot()
        if kind == "26-entry legend":
            for i in range(26):
                ax.plot([0, 1], [i, i + 1], color=matplotlib.colormaps["hsv"](i / 26), label=f"method {i}")
            ax.legend(ncols=2, fontsize=7)
        elif kind == "3 pt type":
            ax.set_title("a title", fontsize=3)
        elif kind == "names over each other":
            ax.annotate("finetune", (0.5, 0.5), fontsize=7)
            ax.annotate("neggrad", (0.51, 0.5), fontsize=7)
        elif kind == "a name over a marker":
            ax.plot([0.5], [0.5], marker="o", markersize=6, linestyle="none", color="C0")
            ax.annotate("scrub", (0.5, 0.5), xytext=(-5, -2), textcoords="offset points", fontsize=7)
    return fig


@pytest.mark.parametrize(
    "kind, flag",
    [
        ("26-entry legend", "(d)"),
        ("3 pt type", "(a)"),
        ("names over each other", "(b)"),
        ("a name over a marker", "(c)"),
    ],
)
def test_the_checker_flags_a_bad_figure(kind, flag):
    found = problems(_bad(kind), 1.0)
    assert any(p.startswith(flag) for p in found), found


def test_the_checker_flags_type_shrunk_by_printing():
    """A figure drawn twice the printed width prints its 7 pt type at 3.5 pt."""
    with style():
        fig = new_figure(2 * TEXT_WIDTH_IN, 3.0)
        fig.add_subplot().set_title("title")
    assert any(p.startswith("(a)") for p in problems(fig, print_scale("trade_off", tuple(fig.get_size_inches()))))


# --------------------------------------------------------------------------- captions


def _named_metrics(caption: str) -> set[str]:
    """The metrics whose LaTeX name (the metric catalogue's) a caption contains."""
    named = set()
    for key, metric in METRICS.items():
        pattern = re.escape(metric.latex)
        if metric.latex.isalpha():  # a plain word (Gap, ZRF, diverged): a whole word, as written
            pattern = rf"\b{pattern}\b"
        if re.search(pattern, caption):
            named.add(key)
    # A longer name containing a shorter one (MIA$_{ent,lr}$ and ... ) names only the longer.
    return {k for k in named if not any(k != o and METRICS[k].latex in METRICS[o].latex for o in named)}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_captions_name_only_the_metrics_drawn(name):
    fig = FIGURES[name]
    allowed = set(fig.metrics) | {m for g in fig.metrics if g in GAPS for m in GAPS[g]}
    assert fig.caption and fig.label.startswith("fig:")
    assert set(fig.metrics) <= set(METRICS), "metrics from the metric catalogue"
    assert _named_metrics(fig.caption) <= allowed, f"{name}'s caption names metrics it does not draw"


def test_the_caption_check_catches_a_stray_metric():
    assert "mia_entropy" in _named_metrics(r"the gap over Acc$_f$ and MIA$_{ent}$")
    assert "mia_entropy" not in (set(FIGURES["frontier"].metrics) | set(GAPS["avg_gap"]))


def test_figure_latex():
    text = figure_latex("cost_vs_classes")
    assert text.startswith("\\begin{figure}[htbp]\n\\centering\n")
    assert "\\includegraphics[width=0.75\\linewidth,height=0.35\\textheight,keepaspectratio]" in text
    assert "{figures/cost_vs_classes.pdf}" in text and "\\label{fig:cost}" in text
    assert text.rstrip().endswith("\\end{figure}")
    assert "MIA$_{eff}$" in figure_latex("frontier") and "MIA$_{ent}$" not in figure_latex("frontier")
