r"""LaTeX output: the results tables (booktabs) and the number macros.

Values are mean ± the half-width of the 95 % interval of the mean (the summary's ``ci95``):
Student's t over the seeds and forget-set draws where a cell has two runs or more; where it
has one, that run's own interval for the metrics that write one (Wilson's for an accuracy, a
bootstrap over the models for the population metrics, over the forget examples for LiRA's
verdict on D_f) and the mean alone for the others (times, distances, attacks). The captions
say both (``INTERVAL_NOTE``, ``POPULATION_INTERVAL_NOTE``); accuracies in percent. A censored
metric (relearn time, whose runs may hit the epoch cap) is printed as "> cap" when no run
finished and "≥ mean (x % reached)" when some did (the capped runs count at the cap, so the
mean is a lower bound), and is never bold then. A membership verdict whose attack has no power
(the summary's ``has_power``, :func:`lethe.metrics.stats.attack_power`) carries a dagger and is
never bold.

Marks after a method's name, in every table: ``=`` it changed no weight, ``×`` its weights (a
population's outputs) were not finite, each with ``k/n`` for a share of the runs (models);
``§`` outside the setting its paper evaluates; ``∘`` it starts from an original of its own;
``∗`` its own gold standard (``MethodInfo.gold_standard``) is not the plain retrain and is not
built. A row marked ``=``, ``×`` or ``§`` is never bold. The population rows read their
populations' own counts (:func:`population_marks`), and a population whose every model is
non-finite prints ``×`` in place of its numbers. A ``∗`` row (SISA, ERM-KTP) prints "n/b" for
its verdicts against retrain (``vs_retrain`` in :mod:`lethe.metrics.catalog`: the gaps, JS to
retrain, F, Score, U-LiRA), which stay in the CSVs, and is never bold as closest to retrain.

Best in bold: in each scenario block and column, the unlearning method(s) whose mean,
as printed, is best by the column's goal (``goal`` in :mod:`lethe.metrics.catalog`): the highest for retention
(Acc_r, Acc_te,r), the lowest for cost and for distances to retrain (time, ratio, JS,
gap), and the closest to the retrained model's mean for every forgetting metric (Acc_f,
Acc_te,f, the attacks, the probe, R_t, ZRF), because the target of unlearning is the
retrained model, not an extreme (for random-sample forgetting retrain still classifies
most of D_f correctly). The original and retrain rows are references and never bold;
ties at the printed precision are all bold; a column with fewer than two candidates or
(for "retrain" goals) no retrain row bolds nothing.

The tables are written by this module rather than pandas' ``Styler.to_latex``: a block
per scenario under a ``\multicolumn`` heading, "mean ± std" cells and the per-block
bolding are each a line or two here, and the output is plain booktabs that
:func:`lethe.report.paper.build_paper` compiles in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from lethe.methods.catalog import (
    FAMILIES,
    GOLD_STANDARDS,
    METHODS,
    SCOPES,
    judged_against_retrain,
    outside_paper_scope,
)
from lethe.metrics.catalog import GAPS, METRICS, PERCENT_METRICS, VS_RETRAIN_METRICS, table_columns
from lethe.plan.paths import ORIGINAL

# (metric, column header, kind) in table order, and what "best" means per metric: from the catalogue.
COLUMNS = [(m.key, m.latex, m.kind) for m in table_columns("main")]
GOALS = {key: m.goal for key, m in METRICS.items()}
REFERENCES = (ORIGINAL, "retrain", "retrain_twin")  # reference rows (and retrain's noise floor): never bold


def escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    table = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
    return "".join(table.get(ch, ch) for ch in str(text))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(mean: float, spread: float, kind: str) -> str:
    """``mean ± spread`` in the metric's format; the mean alone when ``spread`` is missing (one run)."""
    if _missing(mean):
        return "--"
    if kind == "ratio":
        return f"{mean:.3g}"
    scale, digits = {"pct": (100, 1), "frac": (1, 2), "num": (1, 1), "ms": (1000, 1)}[kind]
    text = f"{scale * mean:.{digits}f}"
    return text if _missing(spread) else f"{text} $\\pm$ {scale * spread:.{digits}f}"


NO_POWER = r"$^\dagger$"  # after a verdict whose attack has no power (lethe.metrics.intervals.has_power)
OUTSIDE_SCOPE = r"$^{\S}$"  # after a method run on a kind of forget set its paper does not evaluate
UNCHANGED = r"$^{=}$"  # after a method that changed no weight of its start model (the metric ``unchanged``)
DIVERGED = r"$^{\times}$"  # after a method whose returned weights were not finite (the metric ``diverged``)
OWN_ORIGINAL = r"$^{\circ}$"  # after a method that starts from an original of its own (MethodInfo.original)
OWN_GOLD = r"$^{\ast}$"  # after a method whose own gold standard is not the plain retrain and is not built
NOT_BUILT = "n/b"  # in place of a verdict against retrain for such a method (judged_against_retrain)
BROKEN = r"$\times$"  # in place of a population metric whose every model was non-finite


def judged(method: str) -> bool:
    """Whether ``method``'s verdicts against retrain are verdicts on its unlearning (names outside the
    registry, the original included, are)."""
    return method not in METHODS or judged_against_retrain(method)


def share(value) -> float:
    """A mark metric's fraction of runs (0 where not measured)."""
    return 0.0 if _missing(value) else float(value)


def share_mark(sign: str, fraction, runs) -> str:
    """The mark ``sign`` after a method's name when a ``fraction`` of its ``runs`` did something
    (``$^{sign}$`` for all of them, ``$^{sign k/n}$`` for k of n); "" for none or nothing measured."""
    if _missing(fraction) or float(fraction) <= 0:
        return ""
    if float(fraction) >= 1 or _missing(runs):
        return rf"$^{{{sign.strip()}}}$"
    n = int(runs)
    return rf"$^{{{sign}{round(float(fraction) * n)}/{n}}}$"


def unchanged_mark(fraction, runs) -> str:
    """``=`` (or ``=k/n``) when all (k of n) runs changed no weight (:data:`UNCHANGED`)."""
    return share_mark("=", fraction, runs)


def diverged_mark(fraction, runs) -> str:
    """``×`` (or ``×k/n``) when all (k of n) runs returned non-finite weights (:data:`DIVERGED`)."""
    return share_mark(r"\times ", fraction, runs)


def powerless(value) -> bool:
    """A summary's ``has_power`` cell: False (also read back from CSV as "False") means no power."""
    return value is False or str(value) == "False"


def shown_mean(mean: float, kind: str) -> float | None:
    """The mean as :func:`format_value` prints it (None when missing): ties are judged on what the reader sees."""
    if _missing(mean):
        return None
    if kind == "pct":
        return round(100 * mean, 1)
    if kind == "frac":
        return round(mean, 2)
    if kind in ("num",):
        return round(mean, 1)
    if kind == "ms":
        return round(1000 * mean, 1)
    return float(f"{mean:.3g}")


def best_methods(means: dict[str, float | None], goal: str, kind: str) -> set[str]:
    """The methods to bold among ``means`` ({method: mean}, references included) under ``goal``.

    References (original, retrain) are never candidates; ``goal`` "retrain" needs retrain's mean.
    """
    if goal not in ("max", "min", "retrain"):
        raise ValueError(f"best_methods: unknown goal {goal!r}; known: max, min, retrain")
    shown = {m: shown_mean(v, kind) for m, v in means.items()}
    candidates = {m: v for m, v in shown.items() if m not in REFERENCES and v is not None}
    if len(candidates) < 2:
        return set()
    if goal == "retrain":
        if shown.get("retrain") is None:
            return set()
        score = {m: round(abs(v - shown["retrain"]), 6) for m, v in candidates.items()}
    elif goal == "max":
        score = {m: -v for m, v in candidates.items()}
    else:
        score = dict(candidates)
    best = min(score.values())
    return {m for m, v in score.items() if v == best}


def bold(cell: str) -> str:
    return rf"\textbf{{{cell}}}"


def method_order(methods: list[str]) -> list[str]:
    """original, retrain, then the others in registry order."""
    rank = {name: i for i, name in enumerate([ORIGINAL, *METHODS])}
    return sorted(methods, key=lambda m: rank.get(m, len(rank)))


def scenario_label(row: pd.Series) -> str:
    if row["forget_kind"] == "random_samples":
        return f"{row['forget_set_name']} (random samples)"
    k = int(row["n_forget_classes"])
    return f"{row['forget_set_name']} ({k} class{'es' if k > 1 else ''})"


# Forgetting versus hiding: what accuracy alone cannot show.
HIDING_COLUMNS = [(m.key, m.latex, m.kind) for m in table_columns("hiding")]
# The per-example attack calibrated on reference models.
LIRA_COLUMNS = [(m.key, m.latex, m.kind) for m in table_columns("lira")]
# Populations of unlearning runs against retrains (lethe.metrics.quality).
POPULATION_COLUMNS = [(m.key, m.latex, m.kind) for m in table_columns("population")]


def row_marks(row: pd.Series, method: str, kind: str, k) -> str:
    """The marks after a method's name: ``=`` unchanged, ``×`` diverged (``k/n`` for a share), ``§`` outside its
    paper's setting, ``∘`` its own original, ``∗`` its own gold standard (not built). ``row``: a wide row with
    ("mean", metric) and ("n", metric) entries."""
    mark = unchanged_mark(row.get(("mean", "unchanged"), None), row.get(("n", "unchanged"), None))
    mark += diverged_mark(row.get(("mean", "diverged"), None), row.get(("n", "diverged"), None))
    mark += OUTSIDE_SCOPE if outside_paper_scope(method, kind, k) else ""
    mark += OWN_ORIGINAL if method in METHODS and METHODS[method].original != "original" else ""
    return mark + ("" if judged(method) else OWN_GOLD)


def main_table(summary: pd.DataFrame, methods: list[str] | None = None, columns: list | None = None) -> str:
    """One booktabs table: a block per dataset/architecture/forget scenario, a row per method.

    ``methods`` restricts the rows (the original and retrain rows are always kept as
    references).
    """
    columns = COLUMNS if columns is None else columns
    if methods is not None:
        summary = summary[summary["method"].isin([ORIGINAL, "retrain", *methods])]
    summary = summary.copy()
    for column, default in (("ci95", float("nan")), ("has_power", "")):
        if column not in summary.columns:
            summary[column] = default
    summary["has_power"] = summary["has_power"].map(lambda v: "False" if powerless(v) else "")
    wide = summary.pivot_table(
        index=["dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes", "method"],
        columns="metric",
        values=["mean", "ci95", "n", "has_power"],
        aggfunc="first",
        sort=False,
    )
    ncols = 2 + len(columns)
    lines = [
        r"\begin{tabular}{l r " + " ".join("r" for _ in columns) + "}",
        r"\toprule",
        " & ".join(["Method", "$n$", *[header for _, header, _ in columns]]) + r" \\",
    ]
    blocks = wide.index.droplevel("method").unique()
    for block in blocks:
        dataset, arch, name, kind, k = block
        label = scenario_label(pd.Series({"forget_set_name": name, "forget_kind": kind, "n_forget_classes": k}))
        lines += [
            r"\midrule",
            rf"\multicolumn{{{ncols}}}{{l}}{{\emph{{{escape(dataset)} / {escape(arch)} / {escape(label)}}}}} \\",
        ]
        rows = wide.loc[block]
        # A method with no value in this table's columns has no row (the retrain twin's population
        # rows in a config that does not run the twin itself, LiRA without reference models).
        shown = [m for m in rows.index if any(not _missing(rows.loc[m].get(("mean", c), None)) for c, _, _ in columns)]
        rows = rows.loc[shown]

        def no_power(method, metric, rows=rows):
            return rows.loc[method].get(("has_power", metric), "") == "False"

        def reached(method, metric, rows=rows):
            """The fraction of runs that finished, for a censored metric (1.0 otherwise)."""
            censor = METRICS[metric].censor if metric in METRICS else None
            value = rows.loc[method].get(("mean", censor), float("nan")) if censor else float("nan")
            return 1.0 if _missing(value) else float(value)

        def marked(method, rows=rows, kind=kind, k=k):
            """A run marked ×, = or § (any share of its runs): never bold."""
            row = rows.loc[method]
            return (
                share(row.get(("mean", "diverged"), None)) > 0
                or share(row.get(("mean", "unchanged"), None)) > 0
                or outside_paper_scope(method, kind, k)
            )

        def no_verdict(method, metric):
            """A verdict against retrain of a method judged against a gold standard of its own, not built."""
            return not judged(method) and (metric in VS_RETRAIN_METRICS or GOALS.get(metric) == "retrain")

        # A verdict of an attack without power is no candidate for bold (the references still anchor the goal),
        # nor is a marked run (diverged, unchanged, outside its paper's setting), nor a method's closeness to a
        # retrain that is not its gold standard.
        best = {
            metric: best_methods(
                {
                    m: float("nan")
                    if (no_power(m, metric) or reached(m, metric) < 1 or marked(m) or no_verdict(m, metric))
                    and m not in REFERENCES
                    else rows.loc[m].get(("mean", metric), float("nan"))
                    for m in rows.index
                },
                GOALS[metric],
                fmt,
            )
            for metric, _, fmt in columns
            if metric in GOALS
        }
        for method in method_order(list(rows.index)):
            row = rows.loc[method]
            counts = [row.get(("n", key), float("nan")) for key in ("acc_forget", *(m for m, _, _ in columns))]
            n = int(max((c for c in counts if not _missing(c)), default=0))
            broken = share(row.get(("mean", "diverged"), None)) >= 1
            cells = []
            for metric, _, fmt in columns:
                mean = row.get(("mean", metric), float("nan"))
                ci = row.get(("ci95", metric), float("nan"))
                if not judged(method) and metric in VS_RETRAIN_METRICS:
                    cells.append(NOT_BUILT)  # the numbers stay in the CSVs; against retrain they are no verdict
                    continue
                if broken and metric in METRICS and METRICS[metric].population and not _missing(mean):
                    cells.append(BROKEN)  # every model non-finite: the attack sees NaNs, not forgetting
                    continue
                cell = format_value(mean, ci, fmt) + (NO_POWER if no_power(method, metric) else "")
                done = reached(method, metric)
                if done < 1 and not _missing(mean):
                    # Runs that hit the cap count at the cap: the mean is a lower bound.
                    cell = f"$>${mean:.0f}" if done == 0 else f"$\\geq${mean:.1f} ({100 * done:.0f}\\,\\% reached)"
                cells.append(bold(cell) if method in best.get(metric, ()) else cell)
            lines.append(" & ".join([escape(method) + row_marks(row, method, kind, k), str(n), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


UNCHANGED_NOTE = (
    r" $^{=}$ after a method: it changed no weight of the original (in $k$ of its $n$ runs where marked "
    r"$^{=k/n}$), so those runs are the original, not forgetting. $^{\S}$: outside the setting the method's "
    r"paper evaluates ("
    + "; ".join(
        rf"{escape(name)}: {' and '.join(SCOPES[scope] for scope in info.paper_scope)} only"
        for name, info in METHODS.items()
        if info.paper_scope
    )
    + r"). $^{\times}$: the method returned non-finite (NaN or infinite) weights (in $k$ of $n$ runs where "
    r"marked $^{\times k/n}$); those runs' metrics describe a broken model, not forgetting. A method marked "
    r"$^{=}$, $^{\times}$ or $^{\S}$ is never bold. $^{\circ}$: the method "
    r"starts from an original of its own, trained by its own rule ("
    + "; ".join(
        rf"{escape(name)}: {escape(info.original)}" for name, info in METHODS.items() if info.original != "original"
    )
    + r"); the original row is the pipeline's."
)
# Which reference each row is compared with: retrain, but for the methods whose own gold standard is not built.


def gold_standard_text(key: str) -> str:
    """A gold standard's description (GOLD_STANDARDS) in LaTeX."""
    return escape(GOLD_STANDARDS[key]).replace(r"D\_r", "$D_r$")


GOLD_NOTE = (
    r" Every row is compared with "
    + gold_standard_text("retrain")
    + r" (the retrain row), except those marked $^{\ast}$, whose exact unlearning is another model, which the "
    r"pipeline does not build ("
    + "; ".join(
        f"{escape(name)}: {gold_standard_text(info.gold_standard)}"
        for name, info in METHODS.items()
        if info.gold_standard != "retrain"
    )
    + r"): against the plain retrain a distance or attack sees the method's own training, not its unlearning, so "
    r"their verdicts against retrain are not printed (n/b: its gold standard is not built) and they are never "
    r"bold as closest to retrain; their accuracies and times are measurements and stand."
)
# What the ± of a cell is: Student's t over its runs where it has two or more, else the run's own interval.
INTERVAL_NOTE = (
    r"Mean $\pm$ the half-width of the 95\,\% interval of the mean: Student's $t$ over the cell's $n$ runs (seeds "
    r"$\times$ forget-set draws) where $n \geq 2$; where a cell has one run, that run's own 95\,\% interval "
    r"(Wilson's over the samples for an accuracy, a bootstrap over the forget examples for LiRA on $D_f$) and the "
    r"mean alone for the other metrics (times, distances, attacks)."
)
POPULATION_INTERVAL_NOTE = (
    r"Mean $\pm$ the half-width of the 95\,\% interval: Student's $t$ over the $n$ seeds' populations where "
    r"$n \geq 2$; where $n = 1$, a bootstrap over the one population's models. All in percent."
)
MAIN_CAPTION = (
    r"Every method. " + INTERVAL_NOTE + r" Accuracies in percent, time in milliseconds. Bold: the best "
    r"unlearning method of the column, that is the closest to the retrained model on "
    + " and ".join(METRICS[k].latex for k, _, _ in COLUMNS if GOALS[k] == "retrain")
    + r", the "
    r"highest retention, the lowest time; the original and retrain rows are references." + UNCHANGED_NOTE + GOLD_NOTE
)
HIDING_CAPTION = (
    r"Forgetting or hiding: membership inference, probe, relearn time and distance to the retrained model on the "
    r"forget set. " + INTERVAL_NOTE + r" Bold: the unlearning method closest "
    r"to the retrained model's value (lowest for JS$_{rt}$ and the gap) in each column. $^\dagger$: the attack has no "
    r"power on this model (the 95\,\% interval of its held-out accuracy, pooled over the runs, contains 0.5), so its "
    r"verdict is not evidence either way and is never bold. Gap: SalUn's average gap ("
    + ", ".join(METRICS[key].latex for key in GAPS["avg_gap"])
    + ")."
    + UNCHANGED_NOTE
    + GOLD_NOTE
)

LIRA_CAPTION = (
    r"LiRA, the likelihood-ratio attack calibrated per sample on reference models (online unless marked "
    r"``off''). " + INTERVAL_NOTE + r" Audit (AUC$_{aud}$, TPR at "
    r"0.1\,\%, 1\,\% and 5\,\% FPR): the retained training samples against held-out test samples, how much an "
    r"attacker can learn about this model's members at all; ``--'' where there are too few held-out samples to "
    r"resolve that FPR. $D_f$ (AUC$_f$, TPR$_{1\%,f}$): the forget samples against held-out test samples of "
    r"their classes; the original's $D_f$ looks like members, a model that forgot like the retrained model's. "
    r"$^\dagger$: the audit's interval contains 0.5, so the verdict on $D_f$ has no power. Bold: closest to retrain."
    + UNCHANGED_NOTE
    + GOLD_NOTE
)


POPULATION_CAPTION = (
    r"Populations: each method run $N$ times against $N$ models retrained on $D_r$. $F$: the NeurIPS 2023 "
    r"unlearning challenge's forgetting quality, the runs starting from the same original with independent "
    r"unlearning seeds (per forget example, $\varepsilon$ of the best threshold attack on the example's "
    r"confidence, $\delta=0.01$, scored $2/2^{n}$ for its bin $n$ of width 0.5, averaged; 1 is indistinguishable "
    r"from retraining); Score: $F$ times the ratios of retain and (retained-class) test accuracy to retrain's; "
    r"U-LiRA: the held-out accuracy of a per-example likelihood-ratio attack telling the method's models from "
    r"retrained ones (0.5: indistinguishable), each run starting from its own shadow original (trained like the "
    r"original from its own seed), and U-LiRA$_{orig}$ on the runs from the one original (the attacker knows it). "
    r"All are estimated from finitely many models: the retrain\_twin row, two independent retrain populations "
    r"compared, is what exact unlearning scores at this $N$. "
    + POPULATION_INTERVAL_NOTE
    + r" ``--'' for $F$: the method is "
    r"deterministic (every run from the one original the same model), where $F$ is undefined; for U-LiRA: no "
    r"shadow population. Bold: best unlearning method of the column. The marks are the populations' own: "
    r"$^{\times}$ (or $^{\times k/n}$): all ($k$ of the $n$) models had non-finite outputs, which alone tell them "
    r"from retrained ones; where all did, $\times$ stands in place of the numbers, which measure a broken model, "
    r"not forgetting. $^{=}$ (or $^{=k/n}$): the models changed no weight of the original they started from (where "
    r"a population records no count, the evaluation runs' share), a no-op that looks like retraining on a model "
    r"that barely memorises. A row marked $^{\times}$, $^{=}$ or $^{\S}$ is never bold." + GOLD_NOTE
)


def population_marks(summary: pd.DataFrame) -> pd.DataFrame:
    """The population rows' own ``diverged`` and ``unchanged`` shares, as summary rows (mean: the share of the
    populations' models, n: their number), from rule forgetting_quality's counts: ``population_nonfinite_models``
    (models with non-finite outputs) and ``population_unchanged_models`` (models that changed no weight of their
    start), each with its shadow population's (``population_shadow_*``) where there is one. Where the populations
    hold no unchanged count (results written before it was counted), the evaluation's ``unchanged`` share of the
    same method and scenario stands in for it."""
    keys = ["dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes", "method"]
    wide = summary.pivot_table(index=keys, columns="metric", values="mean", aggfunc="first", sort=False)

    def total(names: tuple[str, ...]) -> pd.Series:
        present = [name for name in names if name in wide.columns]
        if not present:
            return pd.Series(float("nan"), index=wide.index)
        return wide[present].sum(axis=1, min_count=1)

    models = total(("population_models",)) + total(("population_shadow_models",)).fillna(0)
    frames = []
    for mark, counts in (
        ("diverged", ("population_nonfinite_models", "population_shadow_nonfinite_models")),
        ("unchanged", ("population_unchanged_models", "population_shadow_unchanged_models")),
    ):
        count = total(counts)
        frame = pd.DataFrame({"mean": count / models, "n": models}).dropna()
        if mark == "unchanged" and "unchanged" in wide.columns:  # older populations: the evaluation's share
            runs = summary[summary["metric"] == "unchanged"].set_index(keys)
            fallback = runs.loc[runs.index.difference(frame.index), ["mean", "n"]]
            frame = pd.concat([frame, fallback[fallback.index.isin(models.dropna().index)]])
        frames.append(frame.reset_index().assign(metric=mark, std=0.0, ci95=float("nan")))
    return pd.concat(frames, ignore_index=True)[[*keys, "metric", "mean", "std", "n", "ci95"]]


def population_tables(summary: pd.DataFrame) -> str:
    """The population metrics per scenario (:func:`scenario_tables`), or a sentence when no population was drawn.

    The rows carry the populations' own marks (:func:`population_marks`): × where models were non-finite (every
    model: no value, :data:`BROKEN`), = where models changed no weight; neither is ever bold."""
    from lethe.metrics.catalog import POPULATION_METRICS

    rows = summary[summary["metric"].isin(POPULATION_METRICS)]
    if rows.empty:
        return r"\emph{No populations of unlearning runs in this configuration (population.models is 0).}\par" + "\n"
    sizes = sorted({int(n) for n in summary.loc[summary["metric"] == "population_models", "mean"].dropna()})
    caption = POPULATION_CAPTION.replace(r"run $N$ times", rf"run $N = {'/'.join(map(str, sizes))}$ times", 1)
    marks = population_marks(summary)
    shown = rows.set_index(["dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes", "method"]).index
    marks = marks[marks.set_index(list(shown.names)).index.isin(shown)]
    return scenario_tables(pd.concat([rows, marks], ignore_index=True), POPULATION_COLUMNS, caption, "tab:population")


def scenario_tables(
    summary: pd.DataFrame, columns: list | None = None, caption: str = MAIN_CAPTION, label: str = "tab:main"
) -> str:
    """One floating table per dataset/architecture/forget scenario (:func:`main_table` of that block).

    A single table of every scenario outgrows a page once a config has more than two or
    three scenarios of twenty methods; one float per scenario keeps each readable and lets
    LaTeX break pages between them. The first carries ``label``, the others
    ``label-2``, ``label-3``, ...; each caption ends with its scenario.
    """
    keys = ["dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes"]
    out = []
    for i, (block, rows) in enumerate(summary.groupby(keys, sort=False)):
        dataset, arch, name, kind, k = block
        scenario = scenario_label(pd.Series({"forget_set_name": name, "forget_kind": kind, "n_forget_classes": k}))
        out += [
            r"\begin{table}[htbp]",
            r"\centering\small",
            r"\begin{adjustbox}{max width=\linewidth}",
            main_table(rows, columns=columns).rstrip(),
            r"\end{adjustbox}",
            rf"\caption{{{escape(dataset)} / {escape(arch)} / {escape(scenario)}. {caption}}}",
            rf"\label{{{label if i == 0 else f'{label}-{i + 1}'}}}",
            r"\end{table}",
            "",
        ]
    return "\n".join(out) + "\n" if out else "% no results\n"


def family_sections(summary: pd.DataFrame) -> str:
    """A subsection with a results table per method family present in ``summary``."""
    present = set(summary["method"])
    out = []
    for family, heading in FAMILIES.items():
        members = [m for m, info in METHODS.items() if info.family == family and m in present]
        members = [m for m in members if m != "retrain"] if family == "baseline" else members
        if not members and family != "baseline":
            continue
        label = f"tab:family-{family.replace('_', '-')}"
        names = ", ".join(rf"\texttt{{{escape(m)}}}" for m in members) or "none"
        out += [
            rf"\subsection{{{escape(heading)}}}\label{{sec:family-{family.replace('_', '-')}}}",
            rf"Table~\ref{{{label}}} compares {names} with the original model and the retrained model, "
            + (
                "the gold standard."
                if all(judged(m) for m in members)
                else "the gold standard of all but "
                + ", ".join(rf"\texttt{{{escape(m)}}}" for m in members if not judged(m))
                + r", whose own gold standard is not built ($^{\ast}$)."
            ),
            r"\begin{table}[htbp]",
            r"\centering\small",
            r"\begin{adjustbox}{max width=\linewidth}",
            main_table(summary, members).rstrip(),
            r"\end{adjustbox}",
            rf"\caption{{{escape(heading)}: forgetting and retention. " + INTERVAL_NOTE + r" Accuracies in percent, "
            r"time in milliseconds. Bold: the best method of each block "
            r"and column (closest to retrain for "
            + " and ".join(METRICS[k].latex for k, _, _ in COLUMNS if GOALS[k] == "retrain")
            + r", highest retention, lowest time)."
            + UNCHANGED_NOTE
            + GOLD_NOTE
            + "}",
            rf"\label{{{label}}}",
            r"\end{table}",
            "",
        ]
    return "\n".join(out) + "\n"


def methods_section(methods: Iterable[str]) -> str:
    """The methods section's body: a subsection per family (catalogue order) holding the
    paragraph of each method in ``methods``, ``paper/methods/NAME.tex`` (in the paper
    build, ``methods/NAME``), in registry order; families with no such method are left out."""
    ran = set(methods)
    unknown = sorted(ran - set(METHODS))
    if unknown:
        raise ValueError(f"methods_section: {unknown} are not in the method registry")
    out = ["% Generated by lethe.report.latex.methods_section: do not edit."]
    for family, heading in FAMILIES.items():
        members = [m for m, info in METHODS.items() if info.family == family and m in ran]
        if members:
            out.append(rf"\subsection{{{escape(heading)}}}")
            out += [rf"\input{{methods/{m}}}" for m in members]
    return "\n".join(out) + "\n"


def cost_table(tidy: pd.DataFrame) -> str:
    """Unlearning time (ms, mean ± std over every run) per method against the number of forgotten classes.

    Each cell carries its runs' marks (``=``, ``×`` with their share, ``§``) and a marked cell is never the bold
    fastest: a run that changed nothing or broke the model is fast for no forgetting."""
    runs = tidy[tidy["forget_kind"] != "random_samples"]
    costs = runs[runs["metric"] == "unlearn_seconds"]
    if costs.empty:
        # A note one line wide, not nothing: the paper scales this into \linewidth (nothing divides by 0).
        return "\\begin{tabular}{@{}p{\\linewidth}@{}}\\centering No class-forgetting runs in this configuration.\n\\end{tabular}\n"
    keys = ["dataset", "arch", "method", "n_forget_classes"]
    costs = costs.groupby(keys, sort=False)["value"].agg(["mean", "std"])
    costs["std"] = costs["std"].fillna(0.0)
    flags = runs[runs["metric"].isin(("unchanged", "diverged"))]
    flags = flags.groupby([*keys, "metric"], sort=False)["value"].agg(["mean", "count"]).unstack("metric")
    ks = sorted(costs.index.get_level_values("n_forget_classes").unique())
    lines = [
        r"\begin{tabular}{l l " + " ".join("r" for _ in ks) + "}",
        r"\toprule",
        " & ".join(["Data / arch", "Method", *[f"{int(k)} class{'es' if k > 1 else ''}" for k in ks]]) + r" \\",
        r"\midrule",
    ]

    def marks(key) -> str:
        def flag(stat, metric):
            return flags.loc[key, (stat, metric)] if key in flags.index and (stat, metric) in flags.columns else None

        mark = unchanged_mark(flag("mean", "unchanged"), flag("count", "unchanged"))
        mark += diverged_mark(flag("mean", "diverged"), flag("count", "diverged"))
        return mark + (OUTSIDE_SCOPE if outside_paper_scope(key[2], "classes", key[3]) else "")

    for (dataset, arch), block in costs.groupby(level=["dataset", "arch"], sort=False):
        methods = method_order(list(block.index.get_level_values("method").unique()))
        fastest = {
            k: best_methods(
                {
                    m: costs.loc[(dataset, arch, m, k), "mean"]
                    for m in methods
                    if (dataset, arch, m, k) in costs.index and not marks((dataset, arch, m, k))
                },
                "min",
                "ms",
            )
            for k in ks
        }
        for method in methods:
            cells = []
            for k in ks:
                key = (dataset, arch, method, k)
                if key not in costs.index:
                    cells.append("--")
                    continue
                cell = format_value(costs.loc[key, "mean"], costs.loc[key, "std"], "ms")
                cells.append((bold(cell) if method in fastest[k] else cell) + marks(key))
            lines.append(" & ".join([f"{escape(dataset)}/{escape(arch)}", escape(method), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- numbers


def macro_key(*parts: str) -> str:
    return "/".join(str(p) for p in parts)


def number_macros(summary: pd.DataFrame, config: dict) -> str:
    """``numbers.tex``: every summary value as ``\\lethenum{dataset/arch/scenario/method/metric}``
    (percent for accuracies), plus headline macros used by the prose."""
    lines = [
        "% Generated by lethe.report.latex.number_macros: do not edit.",
        r"\makeatletter",
        r"\newcommand{\lethenum}[1]{\ifcsname lethe@#1\endcsname\csname lethe@#1\endcsname"
        r"\else\PackageError{lethe}{number #1 was not generated}{See results/paper/NAME/generated/numbers.tex}\fi}",
    ]

    def define(key: str, value: str) -> None:
        lines.append(rf"\expandafter\def\csname lethe@{key}\endcsname{{{value}}}")

    pct = PERCENT_METRICS
    for row in summary.itertuples(index=False):
        key = macro_key(row.dataset, row.arch, row.forget_set_name, row.method, row.metric)
        value = 100 * row.mean if row.metric in pct else row.mean
        define(key, f"{value:.1f}" if row.metric in pct else f"{value:.3g}")
        define(key + "/std", f"{(100 * row.std if row.metric in pct else row.std):.1f}")
        define(key + "/n", str(int(row.n)))
    lines.append(r"\makeatother")

    # No headline macros: the findings (lethe.report.findings) choose the headline scenario, the first the
    # config lists, and state results; hand-written prose quotes none.
    lines += [
        rf"\newcommand{{\NumSeeds}}{{{len(config['seeds'])}}}",
        rf"\newcommand{{\PaperTitle}}{{{escape(config.get('paper', {}).get('title', 'Lethe'))}}}",
        rf"\newcommand{{\NumRuns}}{{{int(summary[summary['method'] == ORIGINAL]['n'].max() if len(summary) else 0)}}}",
    ]
    lines.append(r"\makeatletter")
    for method in sorted(set(summary["method"])):
        lines.append(rf"\expandafter\def\csname lethe@ran@{method}\endcsname{{}}")
    lines += [r"\newcommand{\IfRan}[3]{\ifcsname lethe@ran@#1\endcsname#2\else#3\fi}", r"\makeatother"]
    return "\n".join(lines) + "\n"
