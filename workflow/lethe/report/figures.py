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

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd

from lethe.metrics.catalog import METRICS, MIA_METRICS
from lethe.metrics.stats import attack_power
from lethe.plan.paths import ORIGINAL
from lethe.report.aggregate import summarise
from lethe.report.latex import method_order, scenario_label
from lethe.report.style import (
    RETRAIN_BAND,
    SERIES,
    PathLike,
    legend_handles,
    method_style,
    new_figure,
    placeholder,
    save,
    style,
)

Paths = PathLike | Iterable[PathLike]
SCENARIO_KEYS = ["dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes"]

# Membership-inference variants (lethe.metrics.mia), in column order, with short titles.
MIA_VARIANTS = [(key, METRICS[key].plot) for key in MIA_METRICS]


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


def _title(scenario: Scenario) -> str:
    dataset, arch, name, kind, k = scenario
    label = scenario_label(pd.Series({"forget_set_name": name, "forget_kind": kind, "n_forget_classes": k}))
    return f"{dataset} / {arch} / {label}"


def _panels(n: int, panel_width: float, panel_height: float, extra_height: float, ncols: int = 3):
    """A figure of ``n`` panels, ``ncols`` to a row, sized per panel; returns (figure, its n axes).

    The figure's size and its grid come from the same ``ncols``, so they cannot disagree.
    """
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = new_figure(panel_width * ncols, panel_height * nrows + extra_height)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes[:n]


def _figure_legend(fig, methods: Sequence[str]) -> None:
    if methods:
        fig.legend(*legend_handles(methods), loc="outside lower center", ncols=min(len(methods), 7), frameon=False)


def _present(methods: Iterable[str]) -> list[str]:
    return method_order(list(dict.fromkeys(methods)))


def _errorbar(ax, method: str, x: float, y: float, xerr: float | None = None, yerr: float | None = None, **kw):
    style_ = method_style(method)
    size = 8 if method == "retrain" else 5
    ax.errorbar(
        x,
        y,
        xerr=xerr,
        yerr=yerr,
        linestyle="none",
        color=style_["color"],
        marker=style_["marker"],
        markersize=size,
        elinewidth=0.7,
        zorder=3 if method in ("retrain", "original") else 2,
        **kw,
    )


def _scatter_panel(ax, stats: dict, scenario: Scenario, x_metric: str, y_metric: str) -> list[str]:
    """One point per method (percent, mean ± std in both axes), dotted lines through retrain's point.

    Returns the methods drawn (those with both metrics)."""
    shown = []
    for method in _methods(stats, scenario):
        x = stats.get((scenario, method, x_metric))
        y = stats.get((scenario, method, y_metric))
        if x is None or y is None:
            continue
        _errorbar(ax, method, 100 * x.mean, 100 * y.mean, 100 * x.std, 100 * y.std)
        shown.append(method)
        if method == "retrain":
            ax.axvline(100 * x.mean, color="black", linestyle=":", linewidth=0.6)
            ax.axhline(100 * y.mean, color="black", linestyle=":", linewidth=0.6)
    return shown


# --------------------------------------------------------------------------- 1. trade-off


def trade_off(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Forgetting against retention: Acc_f (x) and Acc_te,r (y), mean ± std per method, a panel per scenario.

    The retrained model (star) is the target, with dotted lines through it; the original
    model is the grey cross. For random-sample forgetting Acc_te,r is the whole test set.
    """
    stats = _stats(tidy, ["acc_forget", "acc_test_retained"])
    scenarios = _scenarios(stats)
    if not scenarios:
        placeholder("Forgetting vs retention", "No accuracy results to plot.", paths)
        return False
    with style():
        fig, axes = _panels(len(scenarios), 2.3, 2.1, 0.4)
        shown = []
        for ax, scenario in zip(axes, scenarios, strict=True):
            shown += _scatter_panel(ax, stats, scenario, "acc_forget", "acc_test_retained")
            ax.set_title(_title(scenario))
            ax.set_xlabel(r"Acc$_f$: forget set (%)")
            ax.set_ylabel(r"Acc$_{te,r}$: test, retained classes (%)")
            ax.margins(0.08)
        _figure_legend(fig, _present(shown))
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- dot plots


def _dot_panel(
    ax,
    stats: dict,
    scenario: Scenario,
    methods: list[str],
    metric: str,
    scale: float = 1.0,
    hollow: Iterable[str] = (),
    reference: str = "retrain",
) -> bool:
    """A horizontal dot plot: one row per method (mean ± std), ``reference``'s mean ± std as a band;
    the methods in ``hollow`` (verdicts of an attack without power) are drawn as open markers.

    Drawn as one collection of bars and caps and one of markers per marker shape (rather
    than an ``errorbar`` per row: the membership figure has about 500 rows, whose
    thousands of separate lines took most of its drawing time), looking as ``_errorbar``
    draws a point: marker size 8 for retrain, 5 otherwise, bars 0.7 pt, caps of
    ``errorbar.capsize``, retrain and the original on top."""
    rows = []
    for i, method in enumerate(methods):
        s = stats.get((scenario, method, metric))
        if s is not None:
            rows.append((method, scale * s.mean, len(methods) - 1 - i, scale * s.std))
    if rows:
        colors = [method_style(m)["color"] for m, *_ in rows]
        x, y, err = (np.array([r[k] for r in rows], dtype=float) for k in (1, 2, 3))
        ax.hlines(y, x - err, x + err, colors=colors, linewidth=0.7, zorder=2)
        cap = (2 * matplotlib.rcParams["errorbar.capsize"]) ** 2
        edge = matplotlib.rcParams["lines.markeredgewidth"]
        for end in (x - err, x + err):
            ax.scatter(end, y, s=cap, marker="|", c=colors, linewidths=edge, zorder=2)
        hollow = set(hollow)
        groups: dict[tuple, list[int]] = {}
        for k, (method, *_) in enumerate(rows):
            top = method in ("retrain", "original")
            key = (method_style(method)["marker"], 8 if method == "retrain" else 5, 3 if top else 2, method in hollow)
            groups.setdefault(key, []).append(k)
        for (marker, size, order, open_), members in groups.items():
            ax.scatter(
                x[members],
                y[members],
                s=size**2,
                marker=marker,
                c="white" if open_ else [colors[k] for k in members],
                linewidths=edge,
                edgecolors=[colors[k] for k in members],
                zorder=order,
            )
    ref = stats.get((scenario, reference, metric))
    if ref is not None:
        lo, hi = scale * (ref.mean - ref.std), scale * (ref.mean + ref.std)
        ax.axvspan(lo, hi, **RETRAIN_BAND)
        ax.axvline(scale * ref.mean, color="black", linestyle=":", linewidth=0.6)
    ax.set_yticks(range(len(methods)), labels=list(reversed(methods)))
    ax.set_ylim(-0.7, len(methods) - 0.3)
    ax.grid(axis="y", visible=False)
    if not rows:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="0.5")
    return bool(rows)


# --------------------------------------------------------------------------- 2. membership inference


def membership_inference(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Every membership-inference variant present (columns) per scenario (rows), one dot per method.

    The shaded band is the retrained model's mean ± std: a method that forgot should fall
    in it, not at an extreme. Directions differ by variant (entropy and ART: mean predicted
    membership of D_f, lower = more forgetting; MIA-efficacy: fraction judged non-member,
    higher = more forgetting; loss AUC and attack accuracy: 0.5 = indistinguishable). An
    open marker: the attack has no power on that method's models (the 95 % interval of its
    held-out accuracy, pooled over the runs, contains 0.5; :func:`lethe.metrics.stats.attack_power`),
    so the dot's position is no verdict.
    """
    variants = [(metric, title) for metric, title in MIA_VARIANTS if metric in set(tidy["metric"])]
    stats = _stats(tidy, [metric for metric, _ in variants])
    power = attack_power(tidy)
    hollow: dict[tuple, set[str]] = {}
    for row in power[~power["has_power"].astype(bool)].itertuples(index=False):
        key = (tuple(getattr(row, k) for k in SCENARIO_KEYS), row.metric)
        hollow.setdefault(key, set()).add(row.method)
    scenarios = _scenarios(stats)
    if not scenarios:
        placeholder("Membership inference", "No membership-inference results (evaluation ran without attacks).", paths)
        return False
    with style():
        heights = [0.13 * len(_methods(stats, s)) + 0.55 for s in scenarios]
        fig = new_figure(0.9 + 0.95 * len(variants), sum(heights) + 0.3)
        rows = fig.subfigures(len(scenarios), 1, height_ratios=heights, squeeze=False).ravel()
        for r, (sub, scenario) in enumerate(zip(rows, scenarios, strict=True)):
            sub.suptitle(_title(scenario), fontsize=7, weight="bold")
            methods = _methods(stats, scenario)
            axes = sub.subplots(1, len(variants), squeeze=False).ravel()
            for c, (ax, (metric, title)) in enumerate(zip(axes, variants, strict=True)):
                _dot_panel(ax, stats, scenario, methods, metric, hollow=hollow.get((scenario, metric), ()))
                ax.set_xlim(-0.05, 1.05)
                ax.set_xticks([0, 0.5, 1])
                if r == 0:
                    ax.set_title(title)
                if c:
                    ax.tick_params(labelleft=False)
                if r < len(scenarios) - 1:
                    ax.tick_params(labelbottom=False)
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- 3. cost vs classes


def cost_vs_classes(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Unlearning time (log scale) against the number of forgotten classes, a line per method.

    Class-forgetting runs only (kinds classes and random_classes); mean ± std over seeds,
    draws and the forget sets with the same number of classes. A panel per dataset and
    architecture; it needs at least two class counts (otherwise the figure says so).
    """
    runs = tidy[(tidy["metric"] == "unlearn_seconds") & (tidy["forget_kind"] != "random_samples")]
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
    with style():
        fig, axes = _panels(len(panels), 2.6, 2.2, 0.4)
        shown = []
        for ax, ((dataset, arch), block) in zip(axes, panels, strict=True):
            for method in method_order(list(block["method"].unique())):
                line = block[block["method"] == method].sort_values("n_forget_classes")
                st = method_style(method)
                ax.errorbar(
                    line["n_forget_classes"],
                    line["mean"],
                    yerr=line["std"],
                    color=st["color"],
                    marker=st["marker"],
                    markersize=7 if method == "retrain" else 4,
                    elinewidth=0.7,
                    linestyle="--" if method == "retrain" else "-",
                )
                shown.append(method)
            ks = counts[(dataset, arch)]
            ax.set_yscale("log")
            ax.set_xticks(ks, labels=[str(int(k)) for k in ks])
            ax.set_xlabel("forgotten classes")
            ax.set_ylabel("unlearning time (s, log)")
            ax.set_title(f"{dataset} / {arch}")
            if len(ks) < 2:
                ax.text(0.5, 0.9, "one class count only", ha="center", transform=ax.transAxes, color="0.4")
        _figure_legend(fig, _present(shown))
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
        fig, axes = _panels(len(groups), 2.6, 2.0, 0.45)
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
            ax.set_title(f"{dataset} / {arch} / {name}, scheme {scheme}")
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], color=SERIES["accuracy"], label="accuracy used for acceptance"),
            Line2D([], [], color=SERIES["forget"], linestyle=":", label="accuracy on $D_f$"),
            Line2D([], [], color=SERIES["mia"], linestyle="--", label="MIA on $D_f$ (right)"),
            Line2D([], [], color="black", marker="*", linestyle="none", label="accepted"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False)
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
        heights = [0.95 * len(b["rows"]) + 0.45 for b in blocks]
        fig = new_figure(0.95 * ncols + 0.4, sum(heights))
        subs = fig.subfigures(len(blocks), 1, height_ratios=heights, squeeze=False).ravel()
        for sub, block in zip(subs, blocks, strict=True):
            sub.suptitle(f"{block['title']} — {block['saliency']}", fontsize=7, weight="bold")
            axes = sub.subplots(len(block["rows"]), ncols, squeeze=False)
            for r, row in enumerate(block["rows"]):
                image = np.asarray(row["image"])
                gray = image.ndim == 2
                axes[r, 0].imshow(image, cmap="gray" if gray else None, vmin=0, vmax=1)
                axes[r, 0].set_ylabel(row["label"], fontsize=6)
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
                    ax.set_xlabel(f"pred {row['pred'][c - 1]}, p$_y$={row['p_true'][c - 1]:.2f}", fontsize=5)
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
        fig = new_figure(1.75 * ncols + 0.5, 2.0 * len(groups) + 0.1)
        subs = fig.subfigures(len(groups), 1, squeeze=False).ravel()
        for sub, ((dataset, arch), by_method) in zip(subs, groups.items(), strict=True):
            first = next(iter(by_method.values()))[0]
            forgotten = list(first.get("forget_classes") or [])
            seeds = max(len(v) for v in by_method.values())
            sub.suptitle(f"{dataset} / {arch} / {first['forget_set']} (sum over {seeds} seed(s))", fontsize=7)
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
                if k <= 10:
                    for i, j in zip(*np.nonzero(rates >= 5), strict=True):
                        ax.text(
                            j,
                            i,
                            f"{rates[i, j]:.0f}",
                            ha="center",
                            va="center",
                            fontsize=3.5,
                            color="white" if rates[i, j] > 60 else "black",
                        )
                for c in forgotten:
                    ax.add_patch(Rectangle((-0.5, c - 0.5), k, 1, fill=False, edgecolor="#d62728", linewidth=0.8))
                ticks = range(k) if k <= 20 else []
                ax.set_xticks(ticks, labels=[str(t) for t in ticks], fontsize=4.5)
                ax.set_yticks(ticks, labels=[str(t) for t in ticks], fontsize=4.5)
                for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
                    if label.get_text().isdigit() and int(label.get_text()) in forgotten:
                        label.set_color("#d62728")
                hit = [rates[c, c] for c in forgotten if c < k and totals[c, 0] > 0]
                note = f"\nforgotten classes: {np.mean(hit):.0f} % correct" if hit else ""
                ax.set_title(f"{method}{note}", fontsize=6)
                ax.set_xlabel("predicted", fontsize=5.5)
                ax.set_ylabel("true", fontsize=5.5)
            if image is not None:
                sub.colorbar(image, ax=list(axes), shrink=0.8, label="% of the true class")
        save(fig, paths)
    return True


# --------------------------------------------------------------------------- 7. hiding and relearning


def hidden_vs_visible(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Hidden against visible forgetting on the forgotten classes: few-shot probe accuracy of the
    penultimate features (y) against the model's own test accuracy (x), mean ± std per method.

    Above the diagonal the features still separate the class the output no longer names
    (hiding: zero_output); the retrained model (star, dotted lines) marks what a model
    that never saw the class scores. Class forgetting only.
    """
    stats = _stats(tidy[tidy["forget_kind"] != "random_samples"], ["acc_test_forgotten", "probe_fewshot_acc_forgotten"])
    scenarios = [
        s for s in _scenarios(stats) if any((s, m, "probe_fewshot_acc_forgotten") in stats for m in _methods(stats, s))
    ]
    if not scenarios:
        placeholder("Hidden vs visible forgetting", "No class-forgetting runs with probe results.", paths)
        return False
    with style():
        fig, axes = _panels(len(scenarios), 2.3, 2.2, 0.4)
        shown = []
        for ax, scenario in zip(axes, scenarios, strict=True):
            ax.plot([0, 100], [0, 100], color="0.6", linewidth=0.6, linestyle="--")
            shown += _scatter_panel(ax, stats, scenario, "acc_test_forgotten", "probe_fewshot_acc_forgotten")
            ax.set_xlim(-5, 105)
            ax.set_ylim(-5, 105)
            ax.set_aspect("equal")
            ax.text(98, 2, "above the diagonal: hidden", ha="right", va="bottom", color="0.4", fontsize=6)
            ax.set_title(_title(scenario))
            ax.set_xlabel("output accuracy, forgotten classes (test, %)")
            ax.set_ylabel("few-shot probe accuracy (%)")
        _figure_legend(fig, _present(shown))
        save(fig, paths)
    return True


def relearn_time(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Relearn time R_t (epochs of fine-tuning on part of D_f until the original's forget
    accuracy returns) per method, mean ± std, retrain's mean ± std as a band; a panel per scenario.

    Hollow markers: at least one run hit the epoch cap without relearning (the mean is then
    a lower bound).
    """
    stats = _stats(tidy, ["relearn_epochs", "relearn_reached"])
    scenarios = [s for s in _scenarios(stats) if any(key[0] == s and key[2] == "relearn_epochs" for key in stats)]
    if not scenarios:
        placeholder("Relearn time", "No relearn-time results (evaluation ran without an original model).", paths)
        return False
    with style():
        height = max(0.13 * len(_methods(stats, s)) for s in scenarios) + 0.7
        fig, axes = _panels(len(scenarios), 2.3, height, 0.1)
        for ax, scenario in zip(axes, scenarios, strict=True):
            methods = _methods(stats, scenario)
            _dot_panel(ax, stats, scenario, methods, "relearn_epochs")
            for i, method in enumerate(methods):  # hollow where a run did not relearn within the cap
                reached, epochs = (stats.get((scenario, method, m)) for m in ("relearn_reached", "relearn_epochs"))
                if reached is not None and epochs is not None and reached.mean < 1:
                    st = method_style(method)
                    ax.plot(
                        epochs.mean,
                        len(methods) - 1 - i,
                        marker=st["marker"],
                        markersize=8 if method == "retrain" else 5,
                        markerfacecolor="white",
                        markeredgecolor=st["color"],
                        zorder=4,
                    )
            ax.set_xlabel("relearn epochs")
            ax.set_xlim(left=-1)
            ax.set_title(_title(scenario))
        save(fig, paths)
    return True


def forgetting_quality(tidy: pd.DataFrame, paths: Paths) -> bool:
    """Populations against retrained models (:mod:`lethe.metrics.quality`): the forgetting
    quality F and U-LiRA's accuracy (shadow originals; original known) per method, mean ± the
    95 % interval (over seeds, or for one seed the bootstrap over the populations' models), the
    retrain_twin population's as the band (the null: what exact unlearning scores at this N);
    a row of three panels per scenario."""
    metrics = ("fq_F", "ulira_acc", "ulira_known_acc")
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
    with style():
        height = max(0.13 * len(_methods(stats, s)) for s in scenarios) + 0.7
        width = len(metrics)
        fig, axes = _panels(width * len(scenarios), 2.4, height, 0.1, ncols=width)
        for i, scenario in enumerate(scenarios):
            methods = [m for m in _methods(stats, scenario) if m != "retrain"]
            for ax, metric in zip(axes[width * i : width * (i + 1)], metrics, strict=True):
                _dot_panel(ax, stats, scenario, methods, metric, reference="retrain_twin")
                ax.set_xlabel(METRICS[metric].plot)
                ax.set_title(_title(scenario), fontsize="small")
                if metric != "fq_F":
                    ax.axvline(0.5, color="0.5", linestyle="--", linewidth=0.6)
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
    on D_f (forget samples against test samples of their classes), one line per method, the
    original and retrain thick; the diagonal is chance. Mean TPR over seeds and draws."""
    from matplotlib.lines import Line2D

    panels = lira_roc_means(records)
    if not panels:
        placeholder("LiRA ROC curves", "No LiRA results (evaluation.reference_models is 0).", paths)
        return False
    with style():
        fig = new_figure(5.0, 2.2 * len(panels) + 0.5)
        axes = fig.subplots(len(panels), 2, squeeze=False)
        shown = []
        for row, (scenario, by_method) in zip(axes, panels.items(), strict=True):
            for ax, part, title in zip(
                row, ("audit", "forget"), ("audit: D_r vs test", "verdict: D_f vs test"), strict=True
            ):
                ax.plot([1e-3, 1], [1e-3, 1], color="0.6", linestyle=":", linewidth=0.8)
                for method, curve in by_method.items():
                    st = method_style(method)
                    reference = method in ("retrain", ORIGINAL)
                    ax.plot(
                        curve["fpr"],
                        curve[part],
                        color=st["color"],
                        linewidth=1.4 if reference else 0.6,
                        alpha=1.0 if reference else 0.7,
                        zorder=3 if reference else 2,
                    )
                    shown.append(method)
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlim(1e-3, 1)
                ax.set_ylim(1e-3, 1.05)
                ax.set_xlabel("false-positive rate")
                ax.set_ylabel("true-positive rate")
                ax.set_title(f"{_title(scenario)}\n{title}", fontsize=6)
        methods = _present(shown)
        handles = [
            Line2D([], [], color=method_style(m)["color"], linewidth=1.4 if m in ("retrain", ORIGINAL) else 0.8)
            for m in methods
        ]
        fig.legend(handles, methods, loc="outside lower center", ncols=min(len(methods), 6), frameon=False)
        save(fig, paths)
    return True


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
    with style():
        fig, axes = _panels(len(panels), 2.3, 2.1, 0.5)
        shown = []
        for ax, (scenario, panel) in zip(axes, panels.items(), strict=True):
            if panel.target is not None:
                ax.axhline(100 * panel.target, **TARGET_LINE, zorder=1)
            for method, curve in panel.curves.items():
                st = method_style(method)
                epochs = np.arange(len(curve))
                reference = method in ("retrain", ORIGINAL)
                ax.plot(
                    epochs,
                    100 * curve,
                    color=st["color"],
                    linewidth=1.3 if reference else 0.9,
                    zorder=3 if reference else 2,
                )
                ax.plot(
                    epochs[-1],
                    100 * curve[-1],
                    color=st["color"],
                    marker=st["marker"],
                    linestyle="none",
                    markersize=7 if method == "retrain" else 4,
                    zorder=4,
                )
                shown.append(method)
            ax.set_ylim(-3, 103)
            ax.set_xlim(left=-0.5)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("relearn epoch")
            ax.set_ylabel("forget accuracy (%)")
            ax.set_title(_title(scenario))
        methods = _present(shown)
        handles = [Line2D([], [], markersize=6 if m == "retrain" else 4, **method_style(m)) for m in methods]
        handles.append(Line2D([], [], **TARGET_LINE))
        labels = [*methods, "relearn target"]
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 7), frameon=False)
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


def frontier_points(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and method (retrain and the original left out): speed-up over retrain and
    average gap to retrain, mean and sample std over seeds and draws, and Pareto membership.

    Speed-up of a run: ``1 / time_ratio_to_retrain`` (retrain's time over the method's on
    the same seed and forget set; runs with a ratio of 0 or none are left out). Gap: the
    tidy ``avg_gap`` (:func:`lethe.metrics.stats.avg_gap`, SalUn's Avg. Gap: the mean of
    |metric − retrain's| over Acc_f, Acc_r, Acc_te,r and MIA_ent, a fraction). A method
    needs both. ``pareto``: no other method of the scenario is at least as fast and at
    least as close (one of them strictly), on the means.
    """
    ratio = tidy[(tidy["metric"] == "time_ratio_to_retrain") & (tidy["value"] > 0)]
    speedup = ratio.assign(metric="speedup", value=1.0 / ratio["value"])
    rows = pd.concat([speedup, tidy[tidy["metric"] == "avg_gap"]], ignore_index=True)
    rows = rows[~rows["method"].isin(["retrain", ORIGINAL])]
    stats = _stats(rows, ["speedup", "avg_gap"])
    points = []
    for scenario in _scenarios(stats):
        block = []
        for method in _methods(stats, scenario):
            s, g = stats.get((scenario, method, "speedup")), stats.get((scenario, method, "avg_gap"))
            if s is not None and g is not None:
                block.append([*scenario, method, s.mean, s.std, g.mean, g.std, min(s.n, g.n)])
        front = _pareto([p[6] for p in block], [p[8] for p in block])
        points += [[*p, on] for p, on in zip(block, front, strict=True)]
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
    and closer) are named and joined by a grey line. The lower end of a speed-up error bar
    below 0 is cut at the axis (log scale).
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
    with style():
        scenarios = list(dict.fromkeys(points[SCENARIO_KEYS].itertuples(index=False, name=None)))
        fig, axes = _panels(len(scenarios), 2.3, 2.1, 0.4)
        shown = []
        for ax, scenario in zip(axes, scenarios, strict=True):
            block = points[[tuple(row) == scenario for row in points[SCENARIO_KEYS].itertuples(index=False)]]
            ax.set_xscale("log")
            # Under a decade of range matplotlib labels the minor ticks too, and they overlap.
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.axvline(1.0, color="black", linestyle=":", linewidth=0.6)
            ax.axhline(0.0, color="black", linestyle=":", linewidth=0.6)
            if scenario in no_op:
                ax.axhline(100 * no_op[scenario], color="0.5", linestyle="--", linewidth=0.7)
                ax.annotate(
                    "original (no-op)",
                    (0.01, 100 * no_op[scenario]),
                    xycoords=("axes fraction", "data"),
                    xytext=(0, 2),
                    textcoords="offset points",
                    fontsize=5,
                    color="0.4",
                )
            front = block[block["pareto"]].sort_values("speedup")
            ax.plot(front["speedup"], 100 * front["gap"], color="0.6", linewidth=0.6, zorder=1)
            for row in block.itertuples(index=False):
                _errorbar(ax, row.method, row.speedup, 100 * row.gap, xerr=row.speedup_std, yerr=100 * row.gap_std)
                if row.pareto:
                    ax.annotate(
                        row.method,
                        (row.speedup, 100 * row.gap),
                        xytext=(3, 3),
                        textcoords="offset points",
                        fontsize=5,
                        color="0.2",
                    )
                shown.append(row.method)
            ax.margins(0.1)
            ax.set_title(_title(scenario))
            ax.set_xlabel(r"speed-up over retrain ($t_{\mathrm{retrain}}/t$, log)")
            ax.set_ylabel("avg gap to retrain (pp)")
        _figure_legend(fig, _present(shown))
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
