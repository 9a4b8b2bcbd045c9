r"""Claims checked: what the source documents and the methods' papers claim, and what this run measured (torch-free).

Each :class:`Claim` states, in Lethe's words, one claim of a source (a BibTeX key of
paper/references.bib, or one of the source documents Lethe started from, :data:`SOURCES`)
and holds the test that checks it on this run's :class:`lethe.report.findings.Results`.
The test returns a :class:`Verdict`: *reproduced*, *not reproduced*, *partly* (on some of the
scenarios it applies to) or *not testable* with the reason (the method did not run, no
scenario of the kind the claim is about, the attack it needs has no power, a claim about a
curve's shape that no table holds). The paper's "claims checked" table
(:func:`claims_table`) prints claim, source, what was measured and the verdict;
``tests/unit/test_claims.py`` makes each test pass and fail on synthetic summaries.

Tolerances are stated here once and printed in the table's caption: the output forgets when
Acc_f is within :data:`lethe.report.findings.OUTPUT_TOLERANCE_PP` of retraining's; accuracy is
kept when the retained-class test accuracy is at most :data:`KEEP_TOLERANCE_PP` below the
original's; a cost is flat in the number of classes when it grows by at most
:data:`FLAT_GROWTH` from the fewest to the most classes forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lethe.plan.paths import ORIGINAL
from lethe.report.findings import (
    GAP,
    GOLD,
    OUTPUT_TOLERANCE_PP,
    Results,
    Scenario,
    _output_forgets,
    _tt,
    metric_name,
    pct,
    speedup,
)

KEEP_TOLERANCE_PP = 2.0
FLAT_GROWTH = 1.25
SPEEDUP_AT_LEAST = 10.0
# The source documents Lethe started from that have no BibTeX entry: key -> how the table names them.
SOURCES = {
    "zeroing_notebook": "output-zeroing notebook",
}
VERDICTS = ("reproduced", "partly", "not reproduced", "not testable")
NOT_RUN = "the method is not in this run"
WIDTHS = (0.28, 0.12, 0.43, 0.11)  # claim, source, measured, verdict: fractions of the text width


@dataclass(frozen=True)
class Verdict:
    status: str  # one of VERDICTS
    measured: str  # LaTeX: what was measured, or why it is not testable


@dataclass(frozen=True)
class Claim:
    key: str
    method: str  # the method the claim is about
    source: str  # a BibTeX key, or a key of SOURCES
    claim: str  # LaTeX, Lethe's wording of the claim
    test: Callable[[Results, str], Verdict]


def _keeps(results: Results, s: Scenario, method: str) -> bool | None:
    a, o = results.value(s, method, "acc_test_retained"), results.value(s, ORIGINAL, "acc_test_retained")
    if a is None or o is None:
        return None
    return (o - a) * 100 <= KEEP_TOLERANCE_PP


def _scenarios(results: Results, method: str, classes: bool | None) -> list[Scenario]:
    return [
        s
        for s in results.scenarios
        if method in results.methods(s)
        and (classes is None or s.classes == classes)
        and results.mark(s, method) is None
    ]


def _tally(outcomes: list[tuple[Scenario, bool, str]]) -> Verdict:
    """A verdict over the scenarios a claim applies to: each (scenario, holds, what was measured)."""
    measured = "; ".join(rf"{s.label}: {text}" for s, _, text in outcomes)
    held = sum(ok for _, ok, _ in outcomes)
    status = "reproduced" if held == len(outcomes) else "not reproduced" if held == 0 else "partly"
    return Verdict(status, measured)


def _not_ran(method: str, what: str = "scenario") -> Verdict:
    return Verdict("not testable", rf"\texttt{{{_tt(method)}}} has no unmarked run on a {what} here")


def forgets_and_keeps(kind: bool | None, need_speedup: bool = False) -> Callable[[Results, str], Verdict]:
    """The method's output forgets like retraining and it keeps retained accuracy (and, optionally, is fast)."""

    def test(results: Results, method: str) -> Verdict:
        where = _scenarios(results, method, kind)
        if not where:
            return _not_ran(method, {True: "class scenario", False: "random-sample scenario", None: "scenario"}[kind])
        outcomes = []
        for s in where:
            forgets, keeps = _output_forgets(results, s, method), _keeps(results, s, method)
            ratio = results.value(s, method, "time_ratio_to_retrain")
            fast = ratio is not None and ratio > 0 and 1 / ratio >= SPEEDUP_AT_LEAST
            ok = bool(forgets and keeps and (fast or not need_speedup))
            text = (
                rf"{metric_name('acc_forget')} {pct(results.value(s, method, 'acc_forget'))} "
                rf"(retrain {pct(results.value(s, GOLD, 'acc_forget'))}), {metric_name('acc_test_retained')} "
                rf"{pct(results.value(s, method, 'acc_test_retained'))} "
                rf"(original {pct(results.value(s, ORIGINAL, 'acc_test_retained'))})"
            )
            if need_speedup and ratio:
                text += rf", {speedup(1 / ratio)}"
            outcomes.append((s, ok, text))
        return _tally(outcomes)

    return test


def output_forgets(results: Results, method: str) -> Verdict:
    where = _scenarios(results, method, True)
    if not where:
        return _not_ran(method, "class scenario")
    return _tally(
        [
            (
                s,
                bool(_output_forgets(results, s, method)),
                rf"{metric_name('acc_forget')} {pct(results.value(s, method, 'acc_forget'))} "
                rf"(retrain {pct(results.value(s, GOLD, 'acc_forget'))})",
            )
            for s in where
        ]
    )


def hidden_layers_keep(results: Results, method: str) -> Verdict:
    """The few-shot probe of the method's features reads the class as in the original (intervals overlap)."""
    probe = "probe_fewshot_acc_forgotten"
    where = [s for s in _scenarios(results, method, True) if results.cell(s, method, probe) is not None]
    if not where:
        return _not_ran(method, "class scenario with the probe")
    outcomes = []
    for s in where:
        m, o = results.cell(s, method, probe), results.cell(s, ORIGINAL, probe)
        ok = o is not None and m.overlaps(o)
        text = rf"{metric_name(probe)} {pct(m.mean)} (original {pct(o.mean) if o else '--'})"
        outcomes.append((s, ok, text))
    return _tally(outcomes)


def cost_flat_in_classes(results: Results, method: str) -> Verdict:
    """The method's time grows by at most FLAT_GROWTH from the fewest to the most forgotten classes."""
    times: dict[int, list[float]] = {}
    for s in _scenarios(results, method, True):
        t = results.value(s, method, "unlearn_seconds")
        if t is not None:
            times.setdefault(s.k, []).append(t)
    if len(times) < 2:
        return Verdict("not testable", r"the run forgets a single number of classes")
    lo, hi = min(times), max(times)
    t_lo, t_hi = (sum(times[k]) / len(times[k]) for k in (lo, hi))
    growth = t_hi / t_lo
    status = "reproduced" if growth <= FLAT_GROWTH else "not reproduced"
    text = rf"time $\times{growth:.2f}$ from {lo} to {hi} classes ({1000 * t_lo:.0f} to {1000 * t_hi:.0f}\,ms)"
    return Verdict(status, text)


def smallest_gap(results: Results, method: str) -> Verdict:
    """The method's average gap is the smallest of the judged methods on random-sample scenarios."""
    where = _scenarios(results, method, False)
    if not where:
        return _not_ran(method, "random-sample scenario")
    outcomes = []
    for s in where:
        gaps = {m: results.value(s, m, GAP) for m in results.judged(s)}
        gaps = {m: g for m, g in gaps.items() if g is not None}
        rank = sorted(gaps, key=gaps.get).index(method) + 1 if method in gaps else None
        text = rf"gap {pct(gaps.get(method, float('nan')))}\,pp, rank {rank} of {len(gaps)}"
        outcomes.append((s, rank == 1, text))
    return _tally(outcomes)


def attack_like_retrain(metric: str) -> Callable[[Results, str], Verdict]:
    """The output forgets and the attack's verdict on D_f overlaps retrain's; not testable without power."""

    def test(results: Results, method: str) -> Verdict:
        where = _scenarios(results, method, True)
        if not where:
            return _not_ran(method, "class scenario")
        powered = [s for s in where if results.has_power(s, ORIGINAL, metric) is not False]
        if not powered:
            return Verdict("not testable", rf"{metric_name(metric)} has no power on these models")
        outcomes = []
        for s in powered:
            m, r = results.cell(s, method, metric), results.cell(s, GOLD, metric)
            ok = bool(_output_forgets(results, s, method)) and m is not None and r is not None and m.overlaps(r)
            text = rf"{metric_name(metric)} {pct(m.mean) if m else '--'} (retrain {pct(r.mean) if r else '--'})"
            outcomes.append((s, ok, text))
        return _tally(outcomes)

    return test


def curve_shape(results: Results, method: str) -> Verdict:
    return Verdict("not testable", r"a claim about curves' shape, which no table holds: see Figure~\ref{fig:fnn}")


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "zeroing_forgets", "zero_output", "zeroing_notebook",
        "Zeroing a class's output weights makes the model forget the class.", output_forgets,
    ),
    Claim(
        "zeroing_hides", "zero_output", "zeroing_notebook",
        "After zeroing, the hidden layers still hold the class.", hidden_layers_keep,
    ),
    Claim(
        "usifr_flat", "usifr", "fastaccurate_classmu",
        "USI(F)R's cost does not grow with the number of forgotten classes.", cost_flat_in_classes,
    ),
    Claim(
        "usifr_forgets", "usifr", "fastaccurate_classmu",
        "USI(F)R erases a class while keeping retained accuracy.", forgets_and_keeps(True),
    ),
    Claim(
        "dnf_forgets", "dnf", "fastaccurate_classmu",
        "DNF, with untrained noise, erases a class while keeping retained accuracy.", forgets_and_keeps(True),
    ),
    Claim(
        "fnn_forgets", "fnn", "hatua2024forgetting",
        "FNN unlearns the forget set while keeping accuracy on the rest.", forgets_and_keeps(None),
    ),
    Claim(
        "fnn_curves", "fnn", "hatua2024forgetting",
        "FNN's learning--unlearning curves follow Ebbinghaus's forgetting curve.", curve_shape,
    ),
    Claim(
        "pbu_forgets", "pbu", "panda2025pbu",
        "PBU forgets a class without retain data while keeping retained accuracy.", forgets_and_keeps(True),
    ),
    Claim(
        "salun_gap", "salun", "fan2024salun",
        "SalUn has the smallest average gap to retraining on random-data forgetting.", smallest_gap,
    ),
    Claim(
        "scrub_forgets", "scrub", "kurmanji2023towards",
        "SCRUB forgets while keeping the model's test accuracy.", forgets_and_keeps(None),
    ),
    Claim(
        "ssd_fast", "ssd", "foster2024fast",
        "SSD forgets a class, keeps retained accuracy, and is far faster than retraining.",
        forgets_and_keeps(True, need_speedup=True),
    ),
    Claim(
        "bad_teaching_mia", "bad_teaching", "chundawat2023bad",
        "Bad Teaching forgets a class with a membership attack scoring the forget set as on the retrained model.",
        attack_like_retrain("mia_entropy"),
    ),
)  # fmt: skip


def check(results: Results) -> list[tuple[Claim, Verdict]]:
    """Every claim whose method is in the run, with its verdict (a method not run: not testable)."""
    present = {m for s in results.scenarios for m in results.methods(s)}
    out = []
    for claim in CLAIMS:
        if claim.method not in present:
            out.append((claim, Verdict("not testable", NOT_RUN)))
        else:
            out.append((claim, claim.test(results, claim.method)))
    return out


def _source(key: str) -> str:
    return SOURCES[key] if key in SOURCES else rf"\citet{{{key}}}"


def claims_table(results: Results) -> str:
    """The claims-checked table: claim, source, measured, verdict (a ``table`` float labelled tab:claims)."""
    rows, absent = [], []
    for claim, verdict in check(results):
        if verdict.measured == NOT_RUN:
            absent.append(claim)
            continue
        rows.append(rf"{claim.claim} & {_source(claim.source)} & {verdict.measured} & \emph{{{verdict.status}}} \\")
    caption = (
        r"Claims checked: each source's claim in our words, what this run measured on each scenario the claim is "
        rf"about, and the verdict (reproduced on every such scenario, partly, not reproduced, or not testable and why). "
        rf"The output forgets when {metric_name('acc_forget')} is within {OUTPUT_TOLERANCE_PP:g}\,pp of retraining's; "
        rf"accuracy is kept when {metric_name('acc_test_retained')} is at most {KEEP_TOLERANCE_PP:g}\,pp below the "
        rf"original's; a cost is flat when it grows by at most $\times{FLAT_GROWTH:g}$; fast is at least "
        rf"{SPEEDUP_AT_LEAST:g}$\times$ faster than retraining. Runs marked diverged or unchanged, and methods with a "
        r"gold standard of their own, are not counted."
    )
    if absent:
        methods = sorted({c.method for c in absent})
        caption += (
            rf" Left out, their method not being in this run: {len(absent)} claims ("
            + ", ".join(rf"\texttt{{{m.replace('_', chr(92) + '_')}}}" for m in methods)
            + ")."
        )
    if not rows:
        rows = [r"\multicolumn{4}{@{}l}{\emph{No claim's method is in this run.}} \\"]
    return (
        "\n".join(
            [
                r"\begin{table}[htbp]",
                r"\centering\footnotesize",
                r"\begin{tabular}{@{}"
                + "".join(rf">{{\raggedright\arraybackslash}}p{{{w}\linewidth}}" for w in WIDTHS)
                + "@{}}",
                r"\toprule",
                r"Claim & Source & Measured & Verdict \\",
                r"\midrule",
                *rows,
                r"\bottomrule",
                r"\end{tabular}",
                rf"\caption{{{caption}}}",
                r"\label{tab:claims}",
                r"\end{table}",
            ]
        )
        + "\n"
    )
