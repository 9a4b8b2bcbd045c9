"""The paper's figures: one function per figure, from tidy results or records to PDF/PNG files.

Every function takes the data (the tidy frame of :func:`lethe.report.aggregate.collect`,
or plain records read from run records and metrics JSONs) and one or more output paths
(format from the suffix), writes the figure and returns ``True``; when there is nothing
to show (no FNN run, one number of forgotten classes, no class forgetting, no relearn
curves) it writes a small figure that says so instead and returns ``False``, so the paper
and the report always build. Means and sample standard deviations are over seeds and
forget-set draws, as in the tables (:func:`lethe.report.aggregate.summarise`). Colours and
markers come from :mod:`lethe.report.style`: one per method, the same in every figure.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd

from lethe.methods.catalog import METHODS, judged_against_retrain
from lethe.metrics.catalog import METRICS, MIA_METRICS
from lethe.metrics.stats import attack_power
from lethe.plan.paths import ORIGINAL
from lethe.report.aggregate import summarise
from lethe.report.catalog import FIGURES
from lethe.report.findings import Results, hides
from lethe.report.latex import method_order, scenario_label
from lethe.report.style import (
    BACKGROUND,
    FAMILY_COLORS,
    MIN_PT,
    REFERENCES,
    SCENARIO_STYLES,
    SERIES,
    PathLike,
    family,
    legend_handles,
    method_style,
    placeholder,
    save,
    sized_figure,
    style,
)

Paths = PathLike | Iterable[PathLike]
SCENARIO_KEYS = ["dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes"]

# Membership-inference variants (lethe.metrics.mia), in column order, with short titles.
MIA_VARIANTS = [(key, METRICS[key].plot) for key in MIA_METRICS]
# The most methods a panel singles out (coloured, named); the rest are grey.
MAX_HIGHLIGHT = 6
MARKS = {"diverged": "\u00d7", "unchanged": "="}  # what a run's mark adds to its method's name


OVERLAY_MIN_SIZE = 16


class Stat(NamedTuple):
    mean: float
    std: float
    n: int


Scenario = tuple  # (dataset, arch, forget_set_name, forget_kind, n_forget_classes)


def _stats(tidy: pd.DataFrame, metrics: Sequence[str]) -> dict[tuple[Scenario, str, str], Stat]:
    """{(scenario, method, metric): Stat} over seeds and draws."""
    sub = tidy[tidy["metric"].isin(metrics)]
    if sub.empty:
        return {}
    out = {}
    for row in summarise(sub).itertuples(index=False):
        scenario = tuple(getattr(row, key) for key in SCENARIO_KEYS)
        out[(scenario, row.method, row.metric)] = Stat(float(row.mean), float(row.std), int(row.n))
    return out


def _scenarios(stats: dict) -> list[Scenario]:
    """Scenarios in first-seen order (the tidy frame is sorted by dataset, arch, forget set)."""
    return list(dict.fromkeys(scenario for scenario, _, _ in stats))


def _methods(stats: dict, scenario: Scenario) -> list[str]:
    return method_order(list(dict.fromkeys(m for s, m, _ in stats if s == scenario)))


def _title(scenario: Scenario, sep: str = "\n") -> str:
    dataset, arch, name, kind, k = scenario
    label = scenario_label(pd.Series({"forget_set_name": name, "forget_kind": kind, "n_forget_classes": k}))
    return f"{dataset} / {arch}{sep}{label}"


def _metrics(name: str) -> tuple[str, ...]:
    """The metrics figure ``name`` draws (its catalogue entry), its marks (diverged, unchanged) left out."""
    return tuple(m for m in FIGURES[name].metrics if m not in MARKS)


def marks(tidy: pd.DataFrame) -> dict[tuple[Scenario, str], set[str]]:
    """{(scenario, method): {"diverged", "unchanged"}}: the marks of a method with such a run in the scenario."""
    rows = tidy[tidy["metric"].isin(list(MARKS)) & (tidy["value"] > 0)]
    out: dict[tuple[Scenario, str], set[str]] = {}
    for row in rows.itertuples(index=False):
        out.setdefault((tuple(getattr(row, k) for k in SCENARIO_KEYS), row.method), set()).add(row.metric)
    return out


def _marked(found: dict, method: str) -> set[str]:
    """The marks of ``method`` in any scenario (``found``: :func:`marks`)."""
    return set().union(*[v for (_, m), v in found.items() if m == method])


def _mark_suffix(kinds: Iterable[str]) -> str:
    return "".join(" " + MARKS[k] for k in MARKS if k in set(kinds))


def family_order(methods: Iterable[str]) -> list[str]:
    """The references (original, retrain), then the others by family (FAMILIES' order), catalogue order within."""
    ordered = method_order(list(dict.fromkeys(methods)))
    families = list(FAMILY_COLORS)
    return sorted(ordered, key=lambda m: (m not in REFERENCES, families.index(family(m))))


class Point(NamedTuple):
    method: str
    x: float
    y: float
    size: float  # marker size (points)


def _draw_point(ax, method: str, x, y, xerr=None, yerr=None, on: bool = True, hollow: bool = False) -> Point:
    """A method's mean ± std: in its colour and marker when ``on``, else a small grey dot; ``hollow`` open."""
    if on or method in REFERENCES:
        st = method_style(method)
        size = 8 if method == "retrain" else 5
        color = st["color"]
        marker = st["marker"]
        zorder = 4 if method in REFERENCES else 3
    else:
        color, marker, size, zorder = BACKGROUND, "o", 3.5, 1
    ax.errorbar(
        x,
        y,
        xerr=xerr,
        yerr=yerr,
        linestyle="none",
        color=color,
        marker=marker,
        markersize=size,
        markerfacecolor="white" if hollow else color,
        elinewidth=0.6 if on else 0.4,
        zorder=zorder,
    )
    return Point(method, float(x), float(y), size)


def _fits(box, placed, obstacles, frame) -> bool:
    if not (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1):
        return False
    if any(box.overlaps(other) for other in placed):
        return False
    return not any(box.x0 - r < cx < box.x1 + r and box.y0 - r < cy < box.y1 + r for cx, cy, r in obstacles)


OFFSETS = [
    (dx, dy)
    for r in (4, 7, 11, 16, 22)
    for dx, dy in ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
    for dx, dy in [(dx * r, dy * r)]
]


def label_points(fig, labelled: dict, points: dict) -> None:
    """Name points without a name over another or over a marker: ``labelled`` {ax: [(text, x, y, colour)]},
    ``points`` {ax: [Point]} (every marker drawn on ax). Each name goes to the first of :data:`OFFSETS`
    around its point where it stays in the axes and clear of every name and marker; a name with no such
    place is left out. Run after everything else is drawn: it fixes the layout."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")  # the positions the names were fitted to stay as they are
    renderer = fig.canvas.get_renderer()
    to_px = fig.dpi / 72
    for ax, items in labelled.items():
        frame = ax.get_window_extent(renderer)
        obstacles = [(*ax.transData.transform((p.x, p.y)), p.size * to_px / 2) for p in points.get(ax, [])]
        placed = [t.get_window_extent(renderer) for t in ax.texts if t.get_visible() and t.get_text()]
        for text, x, y, color in items:
            for dx, dy in OFFSETS:
                ann = ax.annotate(
                    text,
                    (x, y),
                    xytext=(dx, dy),
                    textcoords="offset points",
                    ha="left" if dx > 0 else "right" if dx < 0 else "center",
                    va="bottom" if dy > 0 else "top" if dy < 0 else "center",
                    fontsize=MIN_PT,
                    color=color,
                    zorder=6,
                )
                box = ann.get_window_extent(renderer)
                if _fits(box, placed, obstacles, frame):
                    placed.append(box)
                    break
                ann.remove()


def _front(xs: Sequence[float], ys: Sequence[float]) -> list[bool]:
    """Which points no other beats: smaller-or-equal x and larger-or-equal y, one strictly."""
    return _pareto([-x for x in xs], [-y for y in ys])


def _cap(methods: Sequence[str], key) -> list[str]:
    """At most MAX_HIGHLIGHT of ``methods``, the smallest by ``key``."""
    return sorted(methods, key=key)[:MAX_HIGHLIGHT]


def _reference_legend(fig, extra: Sequence[tuple] = ()) -> None:
    """The figure's legend: retrain, the original, the grey of the others, the marks, and ``extra`` (handle, label)."""
    from matplotlib.lines import Line2D

    handles, labels = legend_handles(list(REFERENCES))
    handles += [
        Line2D([], [], linestyle="none", marker="o", color=BACKGROUND, markersize=3.5),
        Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", color="0.3", markersize=5),
    ]
    labels += ["other methods", f"hollow: diverged ({MARKS['diverged']}) or unchanged ({MARKS['unchanged']})"]
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3), frameon=False)


def _panels(name: str, n: int, panel_height: float, extra_height: float, ncols: int = 3):
    """Figure ``name`` at its printed width with ``n`` panels, ``ncols`` to a row, ``panel_height`` inches
    a row; returns (figure, its n axes)."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = sized_figure(name, panel_height * nrows + extra_height)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes[:n]


def _highlight_scatter(ax, stats, scenario, x_metric, y_metric, found, pick, scale=(100.0, 100.0)):
    """One point per method with both metrics (mean ± std, times ``scale``): the methods ``pick`` chooses
    (from those without marks, references excluded: ``pick(methods, {method: (x Stat, y Stat)})``) in their
    colour and marker, the references in theirs, every other grey; a marked method (:func:`marks`) hollow.
    Returns (points drawn, the names to place: (text, x, y, colour))."""
    values = {}
    for method in _methods(stats, scenario):
        x, y = stats.get((scenario, method, x_metric)), stats.get((scenario, method, y_metric))
        if x is not None and y is not None:
            values[method] = (x, y)
    eligible = [m for m in values if m not in REFERENCES and not found.get((scenario, m))]
    chosen = list(pick(eligible, values))[:MAX_HIGHLIGHT]
    points, names = [], []
    order = sorted(values, key=lambda m: (m in chosen or m in REFERENCES, m in REFERENCES))
    sx, sy = scale
    for method in order:
        x, y = values[method]
        mark = found.get((scenario, method), set())
        p = _draw_point(
            ax, method, sx * x.mean, sy * y.mean, sx * x.std, sy * y.std, on=method in chosen, hollow=bool(mark)
        )
        points.append(p)
        if method in chosen:
            names.append((method, p.x, p.y, method_style(method)["color"]))
        elif mark:
            names.append((_mark_suffix(mark).strip(), p.x, p.y, "0.3"))
        if method == "retrain":
            ax.axvline(p.x, color="black", linestyle=":", linewidth=0.6)
            ax.axhline(p.y, color="black", linestyle=":", linewidth=0.6)
    return points, names


# --------------------------------------------------------------------------- 1. trade-off


def trade_off(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Forgetting against retention: Acc_f (x) and Acc_te,r (y), mean ± std per method, a panel per scenario.

    The retrained model (star) is the target, with dotted lines through it; the original
    model is the grey cross. Coloured and named: the methods no other beats both in closeness
    to retrain's Acc_f and in Acc_te,r (at most :data:`MAX_HIGHLIGHT`, the closest to retrain's
    point first); the others grey, a run that diverged or changed nothing hollow. For
    random-sample forgetting Acc_te,r is the whole test set.
    """
    x_metric, y_metric = _metrics("trade_off")
    stats = _stats(tidy, [x_metric, y_metric])
    scenarios = _scenarios(stats)
    if not scenarios:
        placeholder("Forgetting vs retention", "No accuracy results to plot.", paths)
        return False
    found = marks(tidy)
    with style():
        fig, axes = _panels("trade_off", len(scenarios), 2.2, 0.5)
        points, names = {}, {}
        for ax, scenario in zip(axes, scenarios, strict=True):
            ref = stats.get((scenario, "retrain", x_metric))
            target = ref.mean if ref is not None else 0.0
            ref_y = stats.get((scenario, "retrain", y_metric))
            target_y = ref_y.mean if ref_y is not None else 1.0

            def pick(methods, values, target=target, target_y=target_y):
                dist = [abs(values[m][0].mean - target) for m in methods]
                front = [
                    m for m, on in zip(methods, _front(dist, [values[m][1].mean for m in methods]), strict=True) if on
                ]
                return _cap(front, lambda m: math.hypot(values[m][0].mean - target, values[m][1].mean - target_y))

            points[ax], names[ax] = _highlight_scatter(ax, stats, scenario, x_metric, y_metric, found, pick)
            ax.set_title(_title(scenario))
            ax.set_xlabel(f"{METRICS[x_metric].plot}: forget set (%)")
            ax.set_ylabel(f"{METRICS[y_metric].plot}: test, retained (%)")
            ax.margins(0.12)
        _reference_legend(fig)
        label_points(fig, names, points)
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- dot plots


ROW_IN = 0.135  # a dot plot's row per method (inches): room for a 7 pt name


def _dot_rows(
    ax,
    stats: dict,
    scenarios: Sequence[Scenario],
    methods: list[str],
    metric: str,
    scale: float = 1.0,
    hollow: dict | None = None,
    reference: str = "retrain",
) -> bool:
    """A horizontal dot plot: a row per method (``methods``, top to bottom), each scenario a series of its
    own (:data:`SCENARIO_STYLES`, offset within the row) at its mean ± std, and ``reference``'s mean ± std
    in that scenario as a band of its colour; ``hollow`` {scenario: methods} are drawn open (verdicts of an
    attack without power, runs that did not relearn).

    Drawn as one collection of bars and one of markers per scenario (the membership figure has
    about 900 dots; an ``errorbar`` each took most of its drawing time)."""
    hollow = hollow or {}
    edge = matplotlib.rcParams["lines.markeredgewidth"]
    n = len(scenarios)
    any_rows = False
    for k, scenario in enumerate(scenarios):
        st = SCENARIO_STYLES[k % len(SCENARIO_STYLES)]
        offset = 0.0 if n == 1 else 0.26 * (k - (n - 1) / 2) / max(1, (n - 1) / 2)
        rows = []
        for i, method in enumerate(methods):
            s = stats.get((scenario, method, metric))
            if s is not None and not math.isnan(s.mean):
                rows.append((method, scale * s.mean, len(methods) - 1 - i - offset, scale * s.std))
        ref = stats.get((scenario, reference, metric))
        if ref is not None and not math.isnan(ref.mean):
            ax.axvspan(scale * (ref.mean - ref.std), scale * (ref.mean + ref.std), color=st["color"], alpha=0.1, lw=0)
        if not rows:
            continue
        any_rows = True
        x, y, err = (np.array([r[j] for r in rows], dtype=float) for j in (1, 2, 3))
        ax.hlines(y, x - err, x + err, colors=st["color"], linewidth=0.6, zorder=2)
        open_ = np.array([m in hollow.get(scenario, ()) for m, *_ in rows], dtype=bool)
        for sel, face in ((~open_, st["color"]), (open_, "white")):
            if sel.any():
                ax.scatter(
                    x[sel],
                    y[sel],
                    s=3.2**2,
                    marker=st["marker"],
                    c=face,
                    edgecolors=st["color"],
                    linewidths=edge,
                    zorder=3,
                )
    ax.set_ylim(-0.7, len(methods) - 0.3)
    ax.grid(axis="y", visible=False)
    if not any_rows:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="0.5")
    return any_rows


def _method_axis(ax, methods: list[str], found: dict) -> None:
    """Name the rows of a dot plot: a method per row in its family's colour, its marks after its name, a
    thin line between families."""
    labels = [f"{m}{_mark_suffix(_marked(found, m))}" for m in methods]
    ax.set_yticks(range(len(methods)), labels=list(reversed(labels)))
    for tick, method in zip(ax.get_yticklabels(), reversed(methods), strict=True):
        tick.set_color(method_style(method)["color"] if method not in REFERENCES else "black")
    for i in range(1, len(methods)):
        if family(methods[i]) != family(methods[i - 1]) or methods[i - 1] in REFERENCES:
            ax.axhline(len(methods) - i - 0.5, color="0.85", linewidth=0.5, zorder=0)


def _scenario_legend(fig, scenarios: Sequence[Scenario], extra: Sequence[tuple] = ()) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], linestyle="none", markersize=4, **SCENARIO_STYLES[k % len(SCENARIO_STYLES)])
        for k in range(len(scenarios))
    ]
    labels = [_title(s, " / ") for s in scenarios]
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 2), frameon=False)


def _dot_height(n_methods: int) -> float:
    return ROW_IN * n_methods


# --------------------------------------------------------------------------- 2. membership inference


def membership_inference(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Every membership-inference variant present (a panel each), a row per method, the scenarios as series.

    The band in a scenario's colour is the retrained model's mean ± std there: a method that
    forgot should fall in it, not at an extreme. Directions differ by variant (entropy and ART:
    mean predicted membership of D_f, lower = more forgetting; MIA-efficacy: fraction judged
    non-member, higher = more forgetting; loss AUC and attack accuracy: 0.5 = indistinguishable).
    An open marker: the attack has no power on that method's models (the 95 % interval of its
    held-out accuracy, pooled over the runs, contains 0.5; :func:`lethe.metrics.stats.attack_power`),
    so the dot's position is no verdict. Marks (diverged ×, unchanged =) follow the method's name.
    """
    import textwrap

    drawn = [m for m in _metrics("membership_inference") if m in MIA_METRICS]
    variants = [(metric, METRICS[metric].plot) for metric in drawn if metric in set(tidy["metric"])]
    stats = _stats(tidy, [metric for metric, _ in variants])
    power = attack_power(tidy)
    hollow: dict[str, dict[Scenario, set[str]]] = {}
    for row in power[~power["has_power"].astype(bool)].itertuples(index=False):
        scenario = tuple(getattr(row, k) for k in SCENARIO_KEYS)
        hollow.setdefault(row.metric, {}).setdefault(scenario, set()).add(row.method)
    scenarios = _scenarios(stats)
    if not scenarios:
        placeholder("Membership inference", "No membership-inference results (evaluation ran without attacks).", paths)
        return False
    found = marks(tidy)
    methods = family_order(m for s in scenarios for m in _methods(stats, s))
    with style():
        fig = sized_figure("membership_inference", _dot_height(len(methods)) + 1.1)
        axes = fig.subplots(1, len(variants), squeeze=False, sharey=True).ravel()
        for c, (ax, (metric, title)) in enumerate(zip(axes, variants, strict=True)):
            _dot_rows(ax, stats, scenarios, methods, metric, hollow=hollow.get(metric))
            if c == 0:
                _method_axis(ax, methods, found)
            else:
                ax.tick_params(labelleft=False)
            ax.set_xlim(-0.08, 1.08)
            ax.set_xticks([0, 0.5, 1], labels=["0", ".5", "1"])
            ax.set_title(textwrap.fill(title, 9), fontsize=MIN_PT)
        from matplotlib.lines import Line2D

        _scenario_legend(
            fig,
            scenarios,
            [
                (
                    Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", color="0.3", markersize=4),
                    "no power",
                )
            ],
        )
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- 3. cost vs classes


def cost_vs_classes(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Unlearning time (log scale) against the number of forgotten classes, a line per method.

    Class-forgetting runs only (kinds classes and random_classes); mean ± std over seeds,
    draws and the forget sets with the same number of classes. A panel per dataset and
    architecture; it needs at least two class counts (otherwise the figure says so).
    Coloured and named: the fastest methods at the largest count (at most
    :data:`MAX_HIGHLIGHT`, none with a mark); the others grey, retrain dashed black.
    """
    (metric,) = _metrics("cost_vs_classes")
    runs = tidy[(tidy["metric"] == metric) & (tidy["forget_kind"] != "random_samples")]
    grouped = runs.groupby(["dataset", "arch", "method", "n_forget_classes"], sort=False)["value"]
    costs = grouped.agg(["mean", "std"]).fillna({"std": 0.0}).reset_index()
    panels = [(key, block) for key, block in costs.groupby(["dataset", "arch"], sort=False)]
    counts = {key: sorted(block["n_forget_classes"].unique()) for key, block in panels}
    if not any(len(ks) >= 2 for ks in counts.values()):
        found = sorted({int(k) for ks in counts.values() for k in ks})
        placeholder(
            "Cost vs number of forgotten classes",
            "Needs class-forgetting runs with at least two numbers of forgotten classes; "
            f"this run has {found or 'none'}.",
            paths,
        )
        return False
    marked = {m for (_, m), v in marks(tidy).items() if v}
    with style():
        fig, axes = _panels("cost_vs_classes", len(panels), 2.6, 0.35, ncols=2)
        points, names = {}, {}
        for ax, ((dataset, arch), block) in zip(axes, panels, strict=True):
            ks = counts[(dataset, arch)]
            last = block[block["n_forget_classes"] == ks[-1]].set_index("method")["mean"]
            eligible = [m for m in last.index if m not in REFERENCES and m not in marked]
            chosen = _cap(eligible, last.__getitem__)
            points[ax], names[ax] = [], []
            methods = method_order(list(block["method"].unique()))
            for method in sorted(methods, key=lambda m: m in chosen or m in REFERENCES):
                line = block[block["method"] == method].sort_values("n_forget_classes")
                on = method in chosen or method in REFERENCES
                st = method_style(method) if on else {"color": BACKGROUND, "marker": "o"}
                size = 7 if method == "retrain" else 4 if on else 2.5
                ax.plot(
                    line["n_forget_classes"],
                    line["mean"],
                    color=st["color"],
                    marker=st["marker"],
                    markersize=size,
                    markerfacecolor="white" if method in marked else st["color"],
                    linewidth=1.0 if on else 0.5,
                    linestyle="--" if method == "retrain" else "-",
                    zorder=3 if on else 1,
                )
                points[ax] += [
                    Point(method, float(k), float(v), size)
                    for k, v in zip(line["n_forget_classes"], line["mean"], strict=True)
                ]
                if method in chosen or method in REFERENCES:
                    names[ax].append(
                        (method, float(line["n_forget_classes"].iloc[-1]), float(line["mean"].iloc[-1]), st["color"])
                    )
            ax.set_yscale("log")
            ax.set_xticks(ks, labels=[str(int(k)) for k in ks])
            ax.set_xlim(ks[0] - 0.3, ks[-1] + 0.35 * (ks[-1] - ks[0]) + 0.5)
            ax.set_xlabel("forgotten classes")
            ax.set_ylabel("unlearning time (s, log)")
            ax.set_title(f"{dataset} / {arch}")
            if len(ks) < 2:
                ax.text(0.5, 0.9, "one class count only", ha="center", transform=ax.transAxes, color="0.4")
        _reference_legend(fig)
        label_points(fig, names, points)
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- 4. FNN curves


def fnn_curves(runs: Sequence[dict], paths: Paths) -> bool:
    """FNN's learning–unlearning turns: accuracy per epoch, MIA on a second axis, acceptance shaded.

    ``runs``: FNN run records (``lethe.stages.unlearn`` writes them) with ``dataset``,
    ``arch``, ``seed``, ``forget_set``, ``params`` and ``notes["trajectory"]``; optional
    ``forget_set_name`` (default: the id without its draw suffix). A panel per
    forgetting-rate scheme (``params["scheme"]``) and scenario, a thin line per seed and
    draw: the accuracy the acceptance rule uses (retained-class validation accuracy, or retain
    accuracy with ``accept_on: retain``, solid), accuracy on D_f (dotted) and the ART
    black-box MIA on D_f (dashed, right axis). Shaded: the accuracy threshold and the
    MIA band 0.5 ± tolerance, and the unlearning epochs (grey); a star marks accepted runs.
    """
    from matplotlib.ticker import MaxNLocator

    from lethe.data.forget_sets import split_id

    runs = [r for r in runs if r.get("notes", {}).get("trajectory")]
    if not runs:
        placeholder("FNN learning–unlearning curves", "fnn did not run in this configuration.", paths)
        return False
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        name = run.get("forget_set_name") or split_id(run["forget_set"])[0]
        key = (run["params"].get("scheme", "?"), run["dataset"], run["arch"], name)
        groups.setdefault(key, []).append(run)
    with style():
        fig, axes = _panels("fnn_curves", len(groups), 2.2, 0.45, ncols=2)
        for ax, ((scheme, dataset, arch, name), members) in zip(axes, groups.items(), strict=True):
            params = members[0]["params"]
            acc_key = "retain_acc" if params.get("accept_on") == "retain" else "val_acc_retained"
            threshold, tol = params.get("acc_threshold", 0.95), params.get("mia_tolerance", 0.1)
            right = ax.twinx()
            right.grid(False)
            ax.axhspan(threshold, 1.0, color=SERIES["accuracy"], alpha=0.10, linewidth=0)
            right.axhspan(0.5 - tol, 0.5 + tol, color=SERIES["mia"], alpha=0.10, linewidth=0)
            longest = max(members, key=lambda r: len(r["notes"]["trajectory"]))
            for i, entry in enumerate(longest["notes"]["trajectory"], start=1):
                if entry["phase"] == "unlearn":
                    ax.axvspan(i - 0.5, i + 0.5, color="0.5", alpha=0.08, linewidth=0)
            for run in sorted(members, key=lambda r: (r["seed"], r["forget_set"])):
                traj = run["notes"]["trajectory"]
                epochs = np.arange(1, len(traj) + 1)
                ax.plot(epochs, [e[acc_key] for e in traj], color=SERIES["accuracy"], alpha=0.8)
                ax.plot(epochs, [e["forget_acc"] for e in traj], color=SERIES["forget"], linestyle=":", alpha=0.8)
                right.plot(epochs, [e["mia"] for e in traj], color=SERIES["mia"], linestyle="--", alpha=0.8)
                if run["notes"].get("accepted"):
                    ax.plot(epochs[-1], traj[-1][acc_key], marker="*", color="black", markersize=7, zorder=4)
            ax.set_ylim(-0.03, 1.03)
            right.set_ylim(-0.03, 1.03)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch (grey: unlearning)")
            ax.set_ylabel("accuracy")
            right.set_ylabel("MIA on $D_f$", color=SERIES["mia"])
            right.spines["right"].set_visible(True)
            ax.set_title(f"{dataset} / {arch} / {name}\nscheme {scheme}")
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], color=SERIES["accuracy"], label="accuracy used for acceptance"),
            Line2D([], [], color=SERIES["forget"], linestyle=":", label="accuracy on $D_f$"),
            Line2D([], [], color=SERIES["mia"], linestyle="--", label="MIA on $D_f$ (right)"),
            Line2D([], [], color="black", marker="*", linestyle="none", label="accepted"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- 5. saliency panels


def saliency_panels(blocks: Sequence[dict], paths: Paths) -> bool:
    """Where the models look: input, then each model's map, for test images of a forgotten and a retained class.

    ``blocks`` (from :func:`lethe.report.saliency.saliency_block`), one per dataset and
    architecture: ``title``, ``saliency`` (how the maps were made), ``models`` (column
    labels) and ``rows``, each with ``image`` (H×W or H×W×3 in [0, 1]), ``label``,
    ``maps`` (one H×W map in [0, 1] per model), ``pred`` and ``p_true`` (per model).
    Maps of images at least :data:`OVERLAY_MIN_SIZE` pixels high and wide are drawn over the
    image; smaller ones (digits' 8×8) alone, bright where the gradient is large.
    """
    blocks = [b for b in blocks if b.get("rows")]
    if not blocks:
        placeholder("Saliency maps", "No class-forgetting forget set in this configuration.", paths)
        return False
    with style():
        ncols = 1 + max(len(b["models"]) for b in blocks)
        heights = [1.2 * len(b["rows"]) + 0.45 for b in blocks]
        fig = sized_figure("gradcam", sum(heights))
        subs = fig.subfigures(len(blocks), 1, height_ratios=heights, squeeze=False).ravel()
        for sub, block in zip(subs, blocks, strict=True):
            sub.suptitle(f"{block['title']} — {block['saliency']}", fontsize=MIN_PT, weight="bold")
            axes = sub.subplots(len(block["rows"]), ncols, squeeze=False)
            for r, row in enumerate(block["rows"]):
                image = np.asarray(row["image"])
                gray = image.ndim == 2
                axes[r, 0].imshow(image, cmap="gray" if gray else None, vmin=0, vmax=1)
                axes[r, 0].set_ylabel(row["label"])
                if r == 0:
                    axes[r, 0].set_title("input")
                for c, model in enumerate(block["models"], start=1):
                    ax = axes[r, c]
                    saliency = np.asarray(row["maps"][c - 1])
                    if min(saliency.shape) >= OVERLAY_MIN_SIZE:  # the map over the image, as Grad-CAM is shown
                        ax.imshow(image.mean(-1) if not gray else image, cmap="gray", vmin=0, vmax=1)
                        ax.imshow(saliency, cmap="jet", alpha=0.5, vmin=0, vmax=1)
                    else:  # a few pixels: an overlay hides both, so the map alone
                        ax.imshow(saliency, cmap="magma", vmin=0, vmax=1)
                    ax.set_xlabel(f"pred {row['pred'][c - 1]}\np$_y$={row['p_true'][c - 1]:.2f}")
                    if r == 0:
                        ax.set_title(model)
                for ax in axes[r, len(block["models"]) + 1 :]:
                    ax.set_axis_off()
            for ax in axes.ravel():
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- 6. confusion matrices


def confusion_matrices(records: Sequence[dict], methods: Sequence[str], paths: Paths) -> bool:
    """Test-set confusion matrices (rows: true class, normalised to 100 %) per model, before and after.

    ``records``: metrics JSONs (``dataset``, ``arch``, ``forget_set``, ``forget_classes``,
    ``method``, ``confusion_test``); ``methods``: the columns, in order. Matrices are summed
    over the records of the same dataset, architecture and method (seeds); a row per
    dataset and architecture; the forgotten classes' labels are red and their rows framed.
    """
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for rec in records:
        groups.setdefault((rec["dataset"], rec["arch"]), {}).setdefault(rec["method"], []).append(rec)
    groups = {key: by_method for key, by_method in groups.items() if any(m in by_method for m in methods)}
    if not groups:
        placeholder("Confusion matrices", "No metrics of the chosen models.", paths)
        return False
    from matplotlib.patches import Rectangle

    with style():
        ncols = len(methods)
        fig = sized_figure("confusion", 2.1 * len(groups) + 0.1)
        subs = fig.subfigures(len(groups), 1, squeeze=False).ravel()
        for sub, ((dataset, arch), by_method) in zip(subs, groups.items(), strict=True):
            first = next(iter(by_method.values()))[0]
            forgotten = list(first.get("forget_classes") or [])
            seeds = max(len(v) for v in by_method.values())
            sub.suptitle(f"{dataset} / {arch} / {first['forget_set']} (sum over {seeds} seed(s))")
            axes = sub.subplots(1, ncols, squeeze=False).ravel()
            image = None
            for ax, method in zip(axes, methods, strict=True):
                ax.grid(False)
                if method not in by_method:
                    ax.set_axis_off()
                    ax.set_title(f"{method}: not run")
                    continue
                counts = np.sum([np.asarray(r["confusion_test"], dtype=float) for r in by_method[method]], axis=0)
                totals = counts.sum(1, keepdims=True)
                rates = 100 * np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
                k = len(rates)
                image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=100)
                for c in forgotten:
                    ax.add_patch(Rectangle((-0.5, c - 0.5), k, 1, fill=False, edgecolor="#d62728", linewidth=0.8))
                # Every class where a cell is 11 pt or more, else every second or fifth.
                cell_pt = 72 * 0.75 * fig.get_figwidth() / ncols / max(k, 1)
                ticks = range(0, k, 1 if cell_pt >= 11 else 2 if 2 * cell_pt >= 11 else max(1, k // 5))
                ax.set_xticks(ticks, labels=[str(t) for t in ticks])
                ax.set_yticks(ticks, labels=[str(t) for t in ticks])
                for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
                    if label.get_text().isdigit() and int(label.get_text()) in forgotten:
                        label.set_color("#d62728")
                hit = [rates[c, c] for c in forgotten if c < k and totals[c, 0] > 0]
                note = f"\nforgotten: {np.mean(hit):.0f} %" if hit else ""
                ax.set_title(f"{method}{note}")
                ax.set_xlabel("predicted")
                ax.set_ylabel("true")
            if image is not None:
                sub.colorbar(image, ax=list(axes), shrink=0.8, label="% of true class")
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- 7. hiding and relearning


def hidden_vs_visible(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Hidden against visible forgetting on the forgotten classes: few-shot probe accuracy of the
    penultimate features (y) against the model's own test accuracy (x), mean ± std per method.

    Above the diagonal the features still separate the class the output no longer names
    (hiding: zero_output); the retrained model (star, dotted lines) marks what a model
    that never saw the class scores. Coloured and named: the methods that hide by the paper's
    test (:func:`lethe.report.findings.hides`, at most :data:`MAX_HIGHLIGHT`). Class forgetting only.
    """
    x_metric, y_metric, output_metric = _metrics("hidden_vs_visible")
    stats = _stats(tidy[tidy["forget_kind"] != "random_samples"], [x_metric, y_metric])
    scenarios = [s for s in _scenarios(stats) if any((s, m, y_metric) in stats for m in _methods(stats, s))]
    if not scenarios:
        placeholder("Hidden vs visible forgetting", "No class-forgetting runs with probe results.", paths)
        return False
    found = marks(tidy)

    # Hiding as the paper's finding tests it (lethe.report.findings.hides), on the same summary.
    results = Results(summarise(tidy[tidy["metric"].isin([output_metric, y_metric])]))
    by_key = {(s.dataset, s.arch, s.name): s for s in results.scenarios}

    def pick(methods, values, scenario=None):
        s = by_key.get(tuple(scenario[:3])) if scenario else None
        return _cap([m for m in methods if s is not None and hides(results, s, m)], lambda m: -values[m][1].mean)

    with style():
        fig, axes = _panels("hidden_vs_visible", len(scenarios), 2.45, 0.45)
        points, names = {}, {}
        for ax, scenario in zip(axes, scenarios, strict=True):
            ax.plot([0, 100], [0, 100], color="0.6", linewidth=0.6, linestyle="--")
            chooser = functools.partial(pick, scenario=scenario)
            points[ax], names[ax] = _highlight_scatter(ax, stats, scenario, x_metric, y_metric, found, chooser)
            ax.set_xlim(-5, 105)
            # The probe's range, not 0-100: the question is how far above retrain's level a method stays.
            low = min((stats[(scenario, m, y_metric)].mean - stats[(scenario, m, y_metric)].std) for m in
                      _methods(stats, scenario) if (scenario, m, y_metric) in stats)  # fmt: skip
            ax.set_ylim(max(0.0, 100 * low - 5), 102)
            ax.set_title(_title(scenario))
            ax.set_xlabel("output accuracy, forgotten (%)")
            ax.set_ylabel("few-shot probe accuracy (%)")
        _reference_legend(fig)
        label_points(fig, names, points)
        save(fig, paths)
    return True


def relearn_time(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Relearn time R_t (epochs of fine-tuning on part of D_f until the original's forget
    accuracy returns): a row per method, the scenarios as series (mean ± std), retrain's mean
    ± std as a band in each scenario's colour.

    Hollow markers: at least one run hit the epoch cap without relearning (the mean is then
    a lower bound).
    """
    (metric,) = _metrics("relearn_time")
    reached = METRICS[metric].censor  # 0/1 per run: relearnt within the cap
    stats = _stats(tidy, [metric, reached])
    scenarios = [s for s in _scenarios(stats) if any(key[0] == s and key[2] == metric for key in stats)]
    if not scenarios:
        placeholder("Relearn time", "No relearn-time results (evaluation ran without an original model).", paths)
        return False
    found = marks(tidy)
    methods = family_order(m for s in scenarios for m in _methods(stats, s))
    hollow = {
        s: {m for m in methods if (r := stats.get((s, m, reached))) is not None and r.mean < 1} for s in scenarios
    }
    with style():
        fig = sized_figure("relearn_time", _dot_height(len(methods)) + 0.9)
        ax = fig.subplots()
        _dot_rows(ax, stats, scenarios, methods, metric, hollow=hollow)
        _method_axis(ax, methods, found)
        ax.set_xlabel(f"{METRICS[metric].plot}")
        ax.set_xlim(left=-1)
        from matplotlib.lines import Line2D

        _scenario_legend(
            fig,
            scenarios,
            [
                (
                    Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", color="0.3", markersize=4),
                    "some run did not relearn (a lower bound)",
                )
            ],
        )
        save(fig, paths)
    return True


def forgetting_quality(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Populations against retrained models (:mod:`lethe.metrics.quality`): the forgetting
    quality F and U-LiRA's accuracy (shadow originals; original known), a panel each, a row per
    method, the scenarios as series: mean ± the 95 % interval (over seeds, or for one seed the
    bootstrap over the populations' models), the retrain_twin population's as the band in each
    scenario's colour (the null: what exact unlearning scores at this N)."""
    metrics = _metrics("forgetting_quality")
    sub = tidy[tidy["metric"].str.startswith(metrics)]
    stats = {}
    if not sub.empty:
        for row in summarise(sub).itertuples(index=False):
            if row.metric in metrics and not math.isnan(row.mean):
                ci = 0.0 if math.isnan(row.ci95) else float(row.ci95)
                stats[(tuple(getattr(row, k) for k in SCENARIO_KEYS), row.method, row.metric)] = Stat(
                    row.mean, ci, row.n
                )
    scenarios = _scenarios(stats)
    if not scenarios:
        placeholder("Forgetting quality", "No populations of unlearning runs (population.models is 0).", paths)
        return False
    found = marks(tidy)
    methods = family_order(m for s in scenarios for m in _methods(stats, s) if m != "retrain" and _judged(m))
    with style():
        fig = sized_figure("forgetting_quality", _dot_height(len(methods)) + 1.0)
        axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True).ravel()
        for c, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
            _dot_rows(ax, stats, scenarios, methods, metric, reference="retrain_twin")
            if c == 0:
                _method_axis(ax, methods, found)
            else:
                ax.tick_params(labelleft=False)
            ax.set_xlabel(METRICS[metric].plot)
            if metric != "fq_F":
                ax.axvline(0.5, color="0.5", linestyle="--", linewidth=0.6)
        _scenario_legend(fig, scenarios)
        save(fig, paths)
    return True


def _record_scenario(rec: dict) -> Scenario:
    k = len(rec.get("forget_classes") or [])
    return (rec["dataset"], rec["arch"], rec["forget_set_name"], rec["forget_kind"], k)


def _hold_last(curves: Sequence[Sequence[float]]) -> np.ndarray:
    """Curves padded to the longest by repeating each one's last value (runs × epochs)."""
    length = max(len(c) for c in curves)
    return np.array([[*c, *[c[-1]] * (length - len(c))] for c in curves], dtype=float)


class RelearnPanel(NamedTuple):
    curves: dict[str, np.ndarray]  # method -> mean accuracy before relearning and after each epoch
    runs: dict[str, int]  # method -> runs averaged
    target: float | None  # mean relearn target of those runs


def _record_marks(records: Sequence[dict]) -> set[str]:
    """The methods with a run (metrics JSON) that diverged or changed nothing."""
    return {r["method"] for r in records if any(((r.get("metrics") or {}).get(k) or 0) > 0 for k in MARKS)}


def relearn_curve_means(records: Sequence[dict]) -> dict[Scenario, RelearnPanel]:
    """Mean relearn curve per scenario and method, from metrics JSONs (``relearn_curve``).

    Runs without a curve (``None``: relearning did not run; absent: a JSON written before
    curves were recorded) are left out. Relearning stops at the first epoch whose accuracy
    reaches the target, so a curve shorter than the longest of its method's runs is one
    that got there early: its last value is held to that length before the mean over
    seeds and draws is taken. Scenarios in the tables' order (dataset, arch, forget set),
    methods in :func:`lethe.report.latex.method_order`.
    """
    ordered = sorted(records, key=lambda r: (r["dataset"], r["arch"], r["seed"], r["forget_set"]))
    curves: dict[Scenario, dict[str, list[list[float]]]] = {}
    targets: dict[Scenario, list[float]] = {}
    for rec in ordered:
        curve = rec.get("relearn_curve")
        if not curve:
            continue
        scenario = _record_scenario(rec)
        curves.setdefault(scenario, {}).setdefault(rec["method"], []).append([float(v) for v in curve])
        target = (rec.get("metrics") or {}).get("relearn_target")
        if target is not None:
            targets.setdefault(scenario, []).append(float(target))
    panels = {}
    for scenario, by_method in curves.items():
        methods = method_order(list(by_method))
        panels[scenario] = RelearnPanel(
            curves={m: _hold_last(by_method[m]).mean(axis=0) for m in methods},
            runs={m: len(by_method[m]) for m in methods},
            target=float(np.mean(targets[scenario])) if targets.get(scenario) else None,
        )
    return panels


TARGET_LINE = {"color": "0.45", "linestyle": "--", "linewidth": 0.8}


# --------------------------------------------------------------------------- LiRA ROC curves


def lira_roc_means(records: Sequence[dict], variant: str = "online") -> dict[Scenario, dict[str, dict]]:
    """{scenario: {method: {"fpr": ..., "audit": mean TPR, "forget": mean TPR}}} over seeds and draws.

    From the metrics JSONs' ``lira_roc``; a point that a run could not resolve (too few
    non-members) is left out of that point's mean, and a point no run resolved is NaN.
    """
    ordered = sorted(records, key=lambda r: (r["dataset"], r["arch"], r["seed"], r["forget_set"]))
    found: dict[Scenario, dict[str, list[dict]]] = {}
    for rec in ordered:
        roc = rec.get("lira_roc")
        if roc:
            found.setdefault(_record_scenario(rec), {}).setdefault(rec["method"], []).append(roc)

    def mean(curves):
        values = np.array([[np.nan if v is None else v for v in c] for c in curves], dtype=float)
        with np.errstate(all="ignore"):
            counts = np.isfinite(values).sum(0)
            return np.where(counts > 0, np.nansum(values, 0) / np.maximum(counts, 1), np.nan)

    return {
        scenario: {
            m: {
                "fpr": np.asarray(runs[0]["fpr"], dtype=float),
                "audit": mean([r[f"{variant}_audit"] for r in runs]),
                "forget": mean([r[f"{variant}_forget"] for r in runs]),
            }
            for m in method_order(list(by_method))
            for runs in [by_method[m]]
        }
        for scenario, by_method in found.items()
    }


def lira_roc(records: Sequence[dict], paths: Paths) -> bool:
    """LiRA's ROC curves on log axes (online), a row per scenario: the audit (retained training
    samples against held-out test samples: how much an attacker learns at all) and the verdict
    on D_f (forget samples against test samples of their classes), one line per method: retrain,
    the original and the methods whose D_f is most exposed (:func:`_lira_exposed`) in colour,
    the others grey, a marked method's dotted; the diagonal is chance. Mean TPR over seeds and draws."""
    from matplotlib.lines import Line2D

    panels = lira_roc_means(records)
    if not panels:
        placeholder("LiRA ROC curves", "No LiRA results (evaluation.reference_models is 0).", paths)
        return False
    marked = _record_marks(records)
    chosen = _lira_exposed(records, marked)
    with style():
        fig = sized_figure("lira_roc", 2.0 * len(panels) + 0.6)
        axes = fig.subplots(len(panels), 2, squeeze=False)
        for row, (scenario, by_method) in zip(axes, panels.items(), strict=True):
            for ax, part, title in zip(
                row, ("audit", "forget"), ("audit: D_r vs test", "verdict: D_f vs test"), strict=True
            ):
                ax.plot([1e-3, 1], [1e-3, 1], color="0.6", linestyle=":", linewidth=0.8)
                for method in sorted(by_method, key=lambda m: m in chosen or m in REFERENCES):
                    curve = by_method[method]
                    on = method in chosen or method in REFERENCES
                    ax.plot(
                        curve["fpr"],
                        curve[part],
                        color=method_style(method)["color"] if on else BACKGROUND,
                        linewidth=1.3 if on else 0.5,
                        linestyle=":" if method in marked else "-",
                        zorder=3 if on else 1,
                    )
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlim(1e-3, 1)
                ax.set_ylim(1e-3, 1.05)
                ax.set_xlabel("false-positive rate")
                ax.set_ylabel("true-positive rate")
                ax.set_title(f"{_title(scenario, ' / ')}\n{title}")
        methods = [*REFERENCES, *chosen]
        handles = [Line2D([], [], color=method_style(m)["color"], linewidth=1.3) for m in methods]
        handles.append(Line2D([], [], color=BACKGROUND, linewidth=0.8))
        labels = [*methods, "other methods"]
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), frameon=False)
        save(fig, paths)
    return True


def _lira_exposed(records: Sequence[dict], marked: set[str], n: int = 4) -> list[str]:
    """The ``n`` methods (none marked, no reference) whose LiRA AUC on D_f is furthest from retrain's in the
    same scenario, on average over the scenarios (from the metrics JSONs' ``metrics``)."""
    (metric,) = [m for m in _metrics("lira_roc") if "forget" in m]
    values: dict[tuple[Scenario, str], list[float]] = {}
    for rec in records:
        v = (rec.get("metrics") or {}).get(metric)
        if v is not None and math.isfinite(v):
            values.setdefault((_record_scenario(rec), rec["method"]), []).append(float(v))
    means = {key: float(np.mean(v)) for key, v in values.items()}
    distance: dict[str, list[float]] = {}
    for (scenario, method), v in means.items():
        ref = means.get((scenario, "retrain"))
        if ref is not None and method not in REFERENCES and method not in marked:
            distance.setdefault(method, []).append(abs(v - ref))
    return sorted(distance, key=lambda m: (-float(np.mean(distance[m])), m))[:n]


def relearn_curves(records: Sequence[dict], paths: Paths) -> bool:
    """Forget accuracy during relearning: accuracy on the scored forget samples (by default
    those held out from the relearn data) before relearning (epoch 0) and after each relearn
    epoch, a line per method, a panel per scenario; the dashed line is the relearn target.

    ``records``: metrics JSONs (``dataset``, ``arch``, ``seed``, ``forget_set``,
    ``forget_set_name``, ``forget_kind``, ``forget_classes``, ``method``,
    ``relearn_curve``, ``metrics["relearn_target"]``). Lines are the mean over seeds and
    draws (:func:`relearn_curve_means`: a run that stopped early reached the target, and
    its last value is held up to its method's longest run); each line ends where its
    method's longest run stopped, marked with the method's marker. The target (the
    original's accuracy on the same samples minus the tolerance) is the mean over the runs
    with a curve.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    panels = relearn_curve_means(records)
    if not panels:
        placeholder(
            "Relearn curves",
            "No relearn curves in the metrics (relearning did not run, or the evaluations predate the curves).",
            paths,
        )
        return False
    marked = _record_marks(records)
    with style():
        fig, axes = _panels("relearn_curves", len(panels), 2.2, 0.45)
        points, names = {}, {}
        for ax, (scenario, panel) in zip(axes, panels.items(), strict=True):
            if panel.target is not None:
                ax.axhline(100 * panel.target, **TARGET_LINE, zorder=1)
            length = {m: len(c) for m, c in panel.curves.items() if m not in REFERENCES and m not in marked}
            fast = sorted(length, key=lambda m: (length[m], m))[:3]
            slow = [m for m in sorted(length, key=lambda m: (-length[m], m)) if m not in fast][:3]
            chosen = {*fast, *slow}
            points[ax], names[ax] = [], []
            for method in sorted(panel.curves, key=lambda m: m in chosen or m in REFERENCES):
                curve = panel.curves[method]
                on = method in chosen or method in REFERENCES
                st = method_style(method) if on else {"color": BACKGROUND, "marker": "o"}
                epochs = np.arange(len(curve))
                size = 7 if method == "retrain" else 4 if on else 2.5
                ax.plot(epochs, 100 * curve, color=st["color"], linewidth=1.1 if on else 0.5, zorder=3 if on else 1)
                ax.plot(
                    epochs[-1],
                    100 * curve[-1],
                    color=st["color"],
                    marker=st["marker"],
                    markerfacecolor="white" if method in marked else st["color"],
                    linestyle="none",
                    markersize=size,
                    zorder=4 if on else 2,
                )
                points[ax].append(Point(method, float(epochs[-1]), float(100 * curve[-1]), size))
                if on:
                    names[ax].append((method, float(epochs[-1]), float(100 * curve[-1]), st["color"]))
            ax.set_ylim(-3, 112)
            longest = max(len(c) for c in panel.curves.values())
            ax.set_xlim(-0.5, longest - 1 + max(1.5, 0.45 * longest))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("relearn epoch")
            ax.set_ylabel("forget accuracy (%)")
            ax.set_title(_title(scenario))
        _reference_legend(fig, [(Line2D([], [], **TARGET_LINE), "relearn target")])
        label_points(fig, names, points)
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- 8. frontier

FRONTIER_COLUMNS = [*SCENARIO_KEYS, "method", "speedup", "speedup_std", "gap", "gap_std", "n", "pareto"]


def _pareto(xs: Sequence[float], ys: Sequence[float]) -> list[bool]:
    """Which points no other point beats: larger or equal x and smaller or equal y, one strictly."""
    return [
        not any(x2 >= x and y2 <= y and (x2 > x or y2 < y) for x2, y2 in zip(xs, ys, strict=True))
        for x, y in zip(xs, ys, strict=True)
    ]


def _judged(method: str) -> bool:
    """Whether ``method`` is judged against the single retrained model (unknown names are)."""
    return method not in METHODS or judged_against_retrain(method)


def frontier_points(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and method (retrain and the original left out): speed-up over retrain and
    average gap to retrain, mean and sample std over seeds and draws, and Pareto membership.

    Speed-up of a run: ``1 / time_ratio_to_retrain`` (retrain's time over the method's on
    the same seed and forget set; runs with a ratio of 0 or none are left out). Gap: the
    tidy ``avg_gap`` (:func:`lethe.metrics.stats.avg_gap`, SalUn's Avg. Gap: the mean of
    |metric − retrain's| over Acc_f, Acc_r, Acc_te,r and MIA-efficacy: ``GAPS["avg_gap"]``, a fraction). A method
    needs both. ``pareto``: no other method of the scenario is at least as fast and at
    least as close (one of them strictly), on the means; a method with a run that diverged or
    changed nothing (:func:`marks`) is never on the front (nor beats one that is).
    """
    gap_metric, ratio_metric = _metrics("frontier")
    ratio = tidy[(tidy["metric"] == ratio_metric) & (tidy["value"] > 0)]
    speedup = ratio.assign(metric="speedup", value=1.0 / ratio["value"])
    rows = pd.concat([speedup, tidy[tidy["metric"] == gap_metric].assign(metric="avg_gap")], ignore_index=True)
    rows = rows[~rows["method"].isin(["retrain", ORIGINAL])]
    stats = _stats(rows, ["speedup", "avg_gap"])
    points = []
    for scenario in _scenarios(stats):
        block = []
        for method in _methods(stats, scenario):
            s, g = stats.get((scenario, method, "speedup")), stats.get((scenario, method, "avg_gap"))
            if s is not None and g is not None:
                block.append([*scenario, method, s.mean, s.std, g.mean, g.std, min(s.n, g.n)])
        found = marks(tidy)
        # The twin is the floor, not a method; a method judged against a gold standard of its own has no gap verdict.
        clean = [p for p in block if not found.get((scenario, p[5])) and p[5] != "retrain_twin" and _judged(p[5])]
        front = dict(zip((p[5] for p in clean), _pareto([p[6] for p in clean], [p[8] for p in clean]), strict=True))
        points += [[*p, front.get(p[5], False)] for p in block]
    return pd.DataFrame(points, columns=FRONTIER_COLUMNS)


def no_op_gaps(tidy: pd.DataFrame) -> dict[Scenario, float]:
    """{scenario: the original's mean average gap to retrain}: what doing nothing scores. Where
    it is small (random samples: the original treats D_f almost like unseen data) the gap cannot
    tell forgetting from a no-op, and the figure must say so."""
    rows = tidy[(tidy["metric"] == "avg_gap") & (tidy["method"] == "original")]
    return {scenario: stat.mean for (scenario, _, _), stat in _stats(rows, ["avg_gap"]).items()}


def frontier(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Quality against cost: average gap to retrain (y, percentage points) against speed-up
    over retrain (x, log scale), one marker per method (mean ± std), a panel per scenario.

    Values from :func:`frontier_points`. Retraining is the reference, not a point: it sits
    at speed-up 1 and gap 0 (the dotted lines). The original model's gap, what a no-op scores
    (:func:`no_op_gaps`), is a dashed grey line: a method at or above it is no closer to
    retrain than doing nothing. The methods on the Pareto front (no other method both faster
    and closer; a method with a diverged or unchanged run is never on it) are coloured, named
    and joined by a grey line; the others are grey, a marked one hollow. The lower end of a
    speed-up error bar below 0 is cut at the axis (log scale).
    """
    points = frontier_points(tidy)
    no_op = no_op_gaps(tidy)
    if points.empty:
        placeholder(
            "Gap to retrain against speed-up",
            "Needs unlearning times relative to retrain and the average gap to retrain of a method besides retrain.",
            paths,
        )
        return False
    from matplotlib.lines import Line2D

    found = marks(tidy)
    with style():
        scenarios = list(dict.fromkeys(points[SCENARIO_KEYS].itertuples(index=False, name=None)))
        fig, axes = _panels("frontier", len(scenarios), 2.2, 0.5)
        drawn, names = {}, {}
        for ax, scenario in zip(axes, scenarios, strict=True):
            block = points[[tuple(row) == scenario for row in points[SCENARIO_KEYS].itertuples(index=False)]]
            ax.set_xscale("log")
            # Under a decade of range matplotlib labels the minor ticks too, and they overlap.
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.axvline(1.0, color="black", linestyle=":", linewidth=0.6)
            ax.axhline(0.0, color="black", linestyle=":", linewidth=0.6)
            if scenario in no_op:
                ax.axhline(100 * no_op[scenario], color="0.5", linestyle="--", linewidth=0.7)
            front = block[block["pareto"]].sort_values("speedup")
            chosen = set(front["method"].iloc[: MAX_HIGHLIGHT + 2])
            ax.plot(front["speedup"], 100 * front["gap"], color="0.6", linewidth=0.6, zorder=1)
            drawn[ax], names[ax] = [], []
            for row in sorted(block.itertuples(index=False), key=lambda r: r.method in chosen):
                mark = found.get((scenario, row.method), set())
                p = _draw_point(
                    ax,
                    row.method,
                    row.speedup,
                    100 * row.gap,
                    row.speedup_std,
                    100 * row.gap_std,
                    on=row.method in chosen,
                    hollow=bool(mark),
                )
                drawn[ax].append(p)
                if row.method in chosen:
                    names[ax].append((row.method, p.x, p.y, method_style(row.method)["color"]))
                elif mark:
                    names[ax].append((_mark_suffix(mark).strip(), p.x, p.y, "0.3"))
            ax.margins(0.12)
            ax.set_title(_title(scenario))
            ax.set_xlabel(r"speed-up over retrain ($t_{\mathrm{retrain}}/t$, log)")
            ax.set_ylabel(f"{METRICS['avg_gap'].plot.replace(' (SalUn)', '')} (pp)")
        _reference_legend(fig, [(Line2D([], [], color="0.5", linestyle="--", linewidth=0.7), "original's gap (no-op)")])
        label_points(fig, names, drawn)
        save(fig, paths)
    return True


# The figures drawn from the tidy metrics table alone: name -> function(tidy, paths).
TABLE_FIGURES = {
    "trade_off": trade_off,
    "membership_inference": membership_inference,
    "cost_vs_classes": cost_vs_classes,
    "hidden_vs_visible": hidden_vs_visible,
    "relearn_time": relearn_time,
    "frontier": frontier,
    "forgetting_quality": forgetting_quality,
}
