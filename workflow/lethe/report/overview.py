r"""The overview table: per method and scenario, the verdicts a reader needs, methods ordered by family (torch-free).

For each scenario (in the config's order) the table gives, per method:

* **Verdict** (class scenarios only; a random sample's output cannot show forgetting, see
  :func:`lethe.report.findings.output_blind`): ``F`` the output forgets like retraining
  (Acc_f within :data:`~lethe.report.findings.OUTPUT_TOLERANCE_PP` of retrain's) and the
  few-shot probe of the features is at retrain's level (intervals overlap); ``H`` the output
  forgets but the probe reads the class as in the original and above retrain (it hides);
  ``O`` the output forgets and the probe tells neither; ``N`` the output does not forget.
* **Gap**: SalUn's average gap to retrain in percentage points, mean ± the half-width of
  its interval; the retrain twin's row is the floor two exact retrainings differ by.
* **U-LiRA**: the population attack's accuracy (percent; 50 is chance), with ``≈`` when the
  method's F or U-LiRA interval overlaps the retrain twin's (the populations cannot tell it
  from retraining) and nothing when both are outside.
* **Speed-up**: retraining's time over the method's, on the same run.

A row whose runs diverged (×) or changed nothing (=) carries its mark and no verdict; a
method with a gold standard of its own (:func:`lethe.methods.catalog.judged_against_retrain`)
prints ``n/b`` (not built) in place of every verdict against retraining.
"""

from __future__ import annotations

from lethe.methods.catalog import FAMILIES, METHODS, outside_paper_scope
from lethe.metrics.catalog import GAPS, METRICS
from lethe.plan.paths import ORIGINAL
from lethe.report.findings import (
    GAP,
    GOLD,
    OUTPUT_TOLERANCE_PP,
    POPULATION_TESTS,
    PROBE,
    TWIN,
    Cell,
    Results,
    Scenario,
    _output_forgets,
    _tt,
    forgets_features,
    hides,
)


def verdict(results: Results, s: Scenario, method: str) -> str:
    """F, H, O or N (see the module docstring); "" where it does not apply."""
    if not s.classes or method in (ORIGINAL, GOLD):
        return ""
    forgets = _output_forgets(results, s, method)
    if forgets is None:
        return "--"
    if not forgets:
        return "N"
    if forgets_features(results, s, method):
        return "F"
    if hides(results, s, method):
        return "H"
    return "O"


def _half(cell: Cell) -> float | None:
    if cell.lo is None or cell.hi is None:
        return None
    return (cell.hi - cell.lo) / 2


def _pp(cell: Cell | None) -> str:
    if cell is None:
        return "--"
    half = _half(cell)
    return f"{100 * cell.mean:.1f}" + ("" if half is None else rf"$\pm${100 * half:.1f}")


def _speed(results: Results, s: Scenario, method: str) -> str:
    ratio = results.value(s, method, "time_ratio_to_retrain")
    if not ratio or ratio <= 0:
        return "--"
    factor = 1 / ratio
    return f"{factor:,.0f}".replace(",", r"\,") if factor >= 10 else f"{factor:.2g}"


def _population(results: Results, s: Scenario, method: str) -> str:
    u = results.cell(s, method, "ulira_acc")
    if u is None:
        return "--"
    cells = {k: (results.cell(s, method, k), results.cell(s, TWIN, k)) for k in POPULATION_TESTS}
    close = any(m is not None and t is not None and m.overlaps(t) for m, t in cells.values())
    return f"{100 * u.mean:.0f}" + (r"$\approx$" if close and method != TWIN else "")


def _mark(results: Results, s: Scenario, method: str) -> str | None:
    reason = results.mark(s, method)
    return {
        "own gold standard": "n/b",
        "diverged": r"$\times$",
        "diverged population": r"$\times$",
        "unchanged": "=",
    }.get(reason)


# At most this many scenarios side by side: more would shrink the type below legibility.
SCENARIOS_PER_TABLE = 3


def overview_table(results: Results) -> str:
    """The overview table (labelled tab:overview; with more than :data:`SCENARIOS_PER_TABLE` scenarios, one
    table per group of them, tab:overview-2, ...), or a note when nothing ran."""
    if not results.scenarios:
        return r"\emph{No results.}" + "\n"
    groups = [
        results.scenarios[i : i + SCENARIOS_PER_TABLE] for i in range(0, len(results.scenarios), SCENARIOS_PER_TABLE)
    ]
    return "\n".join(_table(results, group, i, len(groups)) for i, group in enumerate(groups))


def _table(results: Results, scenarios: list[Scenario], index: int, count: int) -> str:
    cols, heads, rules = [], [], []
    col = 2
    for s in scenarios:
        sub = (["V."] if s.classes else []) + ["Gap", "U-LiRA", r"$\times$"]
        cols.append(sub)
        heads.append(rf"\multicolumn{{{len(sub)}}}{{c}}{{{s.label}}}")
        rules.append(rf"\cmidrule(lr){{{col}-{col + len(sub) - 1}}}")
        col += len(sub)
    spec = "l" + "".join("@{\\hspace{6pt}}" + "r" * len(sub) for sub in cols)
    lines = [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(["", *heads]) + r" \\",
        "".join(rules),
        " & ".join(["Method", *[h for sub in cols for h in sub]]) + r" \\",
        r"\midrule",
    ]

    def row(method: str) -> str:
        cells = [rf"\texttt{{{_tt(method)}}}"]
        for s, sub in zip(scenarios, cols, strict=True):
            if method not in results.methods(s) and method not in (ORIGINAL, TWIN):
                cells += [""] * len(sub)
                continue
            mark = _mark(results, s, method) if method in METHODS else None
            values = []
            if s.classes:
                values.append(mark or verdict(results, s, method))
            gap = results.cell(s, method, GAP)
            values.append(_pp(gap) if mark != "n/b" else "n/b")
            values.append(_population(results, s, method) if mark is None else (mark if mark != "=" else "="))
            values.append(_speed(results, s, method) if method != ORIGINAL else "--")
            if method in METHODS and outside_paper_scope(method, s.kind, s.k):
                values[0] += r"$^{\S}$"  # outside the setting its paper evaluates
            cells += values
        return " & ".join(cells) + r" \\"

    lines.append(rf"\multicolumn{{{col - 1}}}{{l}}{{\emph{{References}}}} \\")
    for ref in (TWIN, ORIGINAL):
        if any(results.row(s, ref, GAP) is not None for s in scenarios):
            lines.append(row(ref))
    present = [m for m in METHODS if m not in (GOLD, TWIN) and any(m in results.methods(s) for s in scenarios)]
    for family, heading in FAMILIES.items():
        members = [m for m in present if METHODS[m].family == family]
        if not members:
            continue
        lines.append(r"\midrule")
        lines.append(rf"\multicolumn{{{col - 1}}}{{l}}{{\emph{{{heading}}}}} \\")
        lines += [row(m) for m in members]
    lines += [r"\bottomrule", r"\end{tabular}"]
    gap = ", ".join(METRICS[k].latex for k in GAPS[GAP])
    caption = (
        r"Overview, a row per method (grouped by family) and a column group per scenario. V.\ (class scenarios): "
        rf"F the output forgets ({METRICS['acc_forget'].latex} within {OUTPUT_TOLERANCE_PP:g}\,pp of retraining's) and "
        rf"the few-shot probe ({METRICS[PROBE].latex}) is at retraining's level; H the output forgets but the probe "
        r"reads the class as in the original (hiding); O the output forgets, the probe tells neither; N the output "
        rf"does not forget. Gap: SalUn's average gap to retraining (over {gap}) in percentage points, mean $\pm$ the "
        r"half-width of its 95\,\% interval; the retrain\_twin row is the floor two exact retrainings differ by, "
        r"the original's what doing nothing scores. U-LiRA: the population attack's accuracy in percent (50 is "
        rf"chance); $\approx$ where the method's {METRICS['fq_F'].latex} or U-LiRA interval overlaps the retrain "
        r"twin's, that is, where the populations cannot tell it from retraining. $\times$: speed-up over retraining. "
        r"n/b: the method's own gold standard (not the single retrained model) is not built, so no verdict; "
        r"$\times$ in place of a verdict: non-finite weights; =: the runs changed no weight; $^{\S}$: outside the "
        r"setting the method's paper evaluates. Full numbers are in "
        r"Appendix~\ref{sec:all}."
    )
    return (
        "\n".join(
            [
                r"\begin{table}[htbp]",
                r"\centering\footnotesize",
                r"\begin{adjustbox}{max width=\linewidth}",  # shrink a wide table, never enlarge a narrow one
                *lines,
                r"\end{adjustbox}",
                rf"\caption{{{caption if index == 0 else rf'Overview, continued ({index + 1} of {count}).'}}}",
                rf"\label{{tab:overview{'' if index == 0 else f'-{index + 1}'}}}",
                r"\end{table}",
            ]
        )
        + "\n"
    )
