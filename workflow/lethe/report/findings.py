r"""Findings: what the results license, each as data with the test that licenses it (torch-free).

The paper's abstract, its summary of findings, its results text, limitations and
conclusions are assembled from the findings this module derives from the aggregated
tables (``summary.csv``, :mod:`lethe.report.aggregate`), so a sentence exists only when
its test passes on this run's numbers, and it changes when they change. No hand-written
sentence of the paper quotes a result.

A :class:`Finding` holds the test that licensed it (``test``, a key of :data:`TESTS`),
where it holds (a scenario, or every scenario), the methods it names, the numbers it
rests on (each with its 95 % interval), and its sentence in LaTeX. Each test is a
function ``results -> list[Finding]`` over a :class:`Results` view of the summary; it
returns nothing when its condition fails. ``tests/unit/test_findings.py`` builds, for
every test, a synthetic summary that makes it true and one that makes it false.

Intervals (:meth:`Results.cell`): a cell over n >= 2 runs is its mean ± the summary's
``ci95`` (Student t over seeds and draws); a cell of one run uses the run's own interval
where the evaluation wrote one (``METRIC_lo``/``METRIC_hi``: Wilson's for accuracies, a
bootstrap over the models for F and U-LiRA), and has none otherwise. Two cells are
*indistinguishable* when their intervals overlap; a cell without an interval is its
point.

Who may be named as matching retraining: only a row that is judged against the single
retrained model (:func:`lethe.methods.catalog.judged_against_retrain`; SISA and ERM-KTP
have gold standards of their own that the pipeline does not build), that changed some
weight in every run, whose weights stayed finite (in its runs and in its population),
and whose attack, where one is quoted, has power. Such rows are *marked*
(:meth:`Results.mark`), and a marked row is never named as matching retraining or on the
frontier.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from lethe.methods.catalog import METHODS, judged_against_retrain, outside_paper_scope
from lethe.metrics.catalog import GAPS, METRICS
from lethe.plan.paths import ORIGINAL
from lethe.report.latex import escape

GOLD = "retrain"
TWIN = "retrain_twin"
REFERENCES = (ORIGINAL, GOLD, TWIN)
# The output forgets like retraining when its forget-set accuracy is within this many percentage
# points of the retrained model's (a point tolerance: Acc_f's intervals are often of zero width).
OUTPUT_TOLERANCE_PP = 5.0
# The population attacks, and the average gap, that the findings read.
POPULATION_TESTS = ("fq_F", "ulira_acc")
GAP = "avg_gap"
SCENARIO_KEYS = ("dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes")


# --------------------------------------------------------------------------- reading the summary


@dataclass(frozen=True)
class Cell:
    """One summary value with its 95 % interval (``lo``/``hi`` None: no interval) over ``n`` runs."""

    mean: float
    lo: float | None
    hi: float | None
    n: int

    @property
    def low(self) -> float:
        return self.mean if self.lo is None else self.lo

    @property
    def high(self) -> float:
        return self.mean if self.hi is None else self.hi

    def overlaps(self, other: Cell) -> bool:
        return self.low <= other.high and other.low <= self.high

    def above(self, other: Cell) -> bool:
        """Entirely above ``other``: the lower end of this interval over the upper end of that."""
        return self.low > other.high

    def below(self, other: Cell) -> bool:
        return self.high < other.low


@dataclass(frozen=True)
class Scenario:
    dataset: str
    arch: str
    name: str
    kind: str
    k: int
    qualified: bool = False  # the run has several datasets or architectures: the label names them

    @property
    def classes(self) -> bool:
        return self.kind != "random_samples"

    @property
    def label(self) -> str:
        """How the text names it: ``class3``, or ``digits/mlp/class3`` when the run has several datasets or archs."""
        if self.qualified:
            return rf"\texttt{{{_tt(self.dataset)}/{_tt(self.arch)}/{_tt(self.name)}}}"
        return rf"\texttt{{{_tt(self.name)}}}"

    @property
    def full(self) -> str:
        what = "a random sample" if not self.classes else ("one class" if self.k == 1 else f"{self.k} classes")
        return rf"\texttt{{{_tt(self.name)}}} ({what}, \texttt{{{_tt(self.dataset)}}}/\texttt{{{_tt(self.arch)}}})"


def _tt(text: str) -> str:
    """``text`` as LaTeX (:func:`lethe.report.latex.escape`), for ``\\texttt``."""
    return escape(text)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class Results:
    """A view of the summary for the tests: cells by scenario, method and metric.

    ``order``: forget-set names in the order the config lists them (the first is the
    headline scenario); scenarios not named come after, in the summary's order.
    """

    def __init__(self, summary: pd.DataFrame, order: Sequence[str] = (), tuned: Sequence[dict] = ()):
        self.summary = summary
        self.tuned = list(tuned)  # the tuning records the runs read (lethe.tuning.values), for the limitations
        self._cells: dict[tuple, pd.Series] = {}
        for row in summary.itertuples(index=False):
            key = (row.dataset, row.arch, row.forget_set_name, row.method, row.metric)
            self._cells[key] = row
        blocks = list(summary[list(SCENARIO_KEYS)].drop_duplicates().itertuples(index=False))
        qualified = len({(b[0], b[1]) for b in blocks}) > 1
        seen = [Scenario(b[0], b[1], b[2], b[3], int(b[4]), qualified) for b in blocks]
        rank = {name: i for i, name in enumerate(order)}
        self.scenarios = sorted(seen, key=lambda s: (rank.get(s.name, len(rank)), s.dataset, s.arch))

    def methods(self, scenario: Scenario) -> list[str]:
        """Unlearning methods with rows in ``scenario`` (references excluded), in catalogue order."""
        names = {m for (d, a, f, m, _) in self._cells if (d, a, f) == (scenario.dataset, scenario.arch, scenario.name)}
        rank = {name: i for i, name in enumerate(METHODS)}
        return sorted((m for m in names if m not in REFERENCES), key=lambda m: rank.get(m, len(rank)))

    def row(self, scenario: Scenario, method: str, metric: str):
        return self._cells.get((scenario.dataset, scenario.arch, scenario.name, method, metric))

    def value(self, scenario: Scenario, method: str, metric: str) -> float | None:
        row = self.row(scenario, method, metric)
        return None if row is None or _missing(row.mean) else float(row.mean)

    def cell(self, scenario: Scenario, method: str, metric: str) -> Cell | None:
        row = self.row(scenario, method, metric)
        if row is None or _missing(row.mean):
            return None
        n = int(row.n)
        if n >= 2:
            ci = getattr(row, "ci95", float("nan"))
            lo, hi = (None, None) if _missing(ci) else (row.mean - ci, row.mean + ci)
        else:
            lo, hi = self.value(scenario, method, metric + "_lo"), self.value(scenario, method, metric + "_hi")
        if metric in METRICS and METRICS[metric].kind in ("pct", "frac") and lo is not None and hi is not None:
            lo, hi = max(lo, 0.0), min(hi, 1.0)  # a t interval of a proportion does not leave [0, 1]
        return Cell(float(row.mean), lo, hi, n)

    def mark(self, scenario: Scenario, method: str) -> str | None:
        """Why ``method`` may not be named as matching retraining in ``scenario`` (None: it may)."""
        if method in METHODS and not judged_against_retrain(method):
            return "own gold standard"
        if (self.value(scenario, method, "diverged") or 0) > 0:
            return "diverged"
        if (self.value(scenario, method, "population_nonfinite_models") or 0) > 0:
            return "diverged population"
        if (self.value(scenario, method, "population_unchanged_models") or 0) > 0:
            return "unchanged"
        if (self.value(scenario, method, "unchanged") or 0) > 0:
            return "unchanged"
        return None

    def judged(self, scenario: Scenario) -> list[str]:
        """The methods of ``scenario`` that may be named as matching retraining (no :meth:`mark`)."""
        return [m for m in self.methods(scenario) if self.mark(scenario, m) is None]

    def has_power(self, scenario: Scenario, method: str, metric: str) -> bool | None:
        row = self.row(scenario, method, metric)
        value = None if row is None else getattr(row, "has_power", None)
        if _missing(value) or value == "":
            return None
        return not (value is False or str(value) == "False")


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    test: str  # the key in TESTS of the test that licensed it
    text: str  # the sentence, LaTeX
    scenario: str | None = None  # the forget set it holds on; None: every scenario
    methods: tuple[str, ...] = ()  # the methods it names
    numbers: dict = field(default_factory=dict)  # the values it rests on: name -> number (fractions)
    role: str = "result"  # "result" (results text, conclusions) or "limitation"
    headline: bool = False  # the abstract and the introduction's summary carry it
    short: str = ""  # the abstract's shorter sentence (the text where empty)

    def as_dict(self) -> dict:
        return {
            "test": self.test,
            "scenario": self.scenario,
            "methods": list(self.methods),
            "numbers": self.numbers,
            "role": self.role,
            "headline": self.headline,
            "text": self.text,
            "short": self.short,
        }


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def speedup(factor: float) -> str:
    """A speed-up over retraining, ``12$\\times$`` (two significant digits below 10)."""
    return (f"{factor:,.0f}" if factor >= 10 else f"{factor:.2g}").replace(",", r"\,") + r"$\times$"


def pp(cell: Cell) -> str:
    """A cell in percent with its interval: ``12.3 [10.1, 14.5]`` (the mean alone without one)."""
    if cell.lo is None:
        return rf"{pct(cell.mean)}\,\%"
    return rf"{pct(cell.mean)}\,\% [{pct(cell.low)}, {pct(cell.high)}]"


def gap_pp(cell: Cell) -> str:
    if cell.lo is None:
        return rf"{pct(cell.mean)}\,pp"
    return rf"{pct(cell.mean)}\,pp [{pct(max(cell.low, 0.0))}, {pct(cell.high)}]"


def names(methods: Iterable[str], scenario: Scenario | None = None) -> str:
    """``a, b and c`` in typewriter, each with the outside-the-paper mark where it applies."""
    items = []
    for m in methods:
        mark = ""
        if scenario is not None and outside_paper_scope(m, scenario.kind, scenario.k):
            mark = r"$^{\S}$"
        items.append(rf"\texttt{{{_tt(m)}}}{mark}")
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _count(k: int, n: int, noun: str = "method") -> str:
    return f"{k} of the {n} {noun}s" if n != 1 else f"{k} of the {n} {noun}"


def metric_name(key: str) -> str:
    """A metric's header from the metric catalogue (never typed)."""
    return METRICS[key].latex


def gap_members() -> str:
    return ", ".join(metric_name(k) for k in GAPS[GAP])


# Each test: results -> the findings it licenses (none when its condition fails).


def population_separates(results: Results) -> list[Finding]:
    """Per scenario with populations: which methods the population tests (F, U-LiRA) cannot tell from
    retraining (their interval overlaps the retrain twin's), or that none can be."""
    out = []
    for s in results.scenarios:
        twin = {k: results.cell(s, TWIN, k) for k in POPULATION_TESTS}
        if any(c is None for c in twin.values()):
            continue
        scored = {m: {k: results.cell(s, m, k) for k in POPULATION_TESTS} for m in results.judged(s)}
        scored = {m: c for m, c in scored.items() if any(v is not None for v in c.values())}
        if not scored:
            continue
        close = [m for m, c in scored.items() if any(v is not None and v.overlaps(twin[k]) for k, v in c.items())]
        numbers = {f"twin_{k}": twin[k].mean for k in POPULATION_TESTS}
        if close:
            text = (
                rf"On {s.label}, the population tests cannot tell {names(close, s)} from retraining: "
                rf"{'its' if len(close) == 1 else 'their'} {metric_name('fq_F')} or {metric_name('ulira_acc')} "
                rf"interval overlaps the retrain twin's ({metric_name('fq_F')} {pp(twin['fq_F'])}, "
                rf"{metric_name('ulira_acc')} {pp(twin['ulira_acc'])})."
            )
            out.append(Finding("population_separates", text, s.name, tuple(close), numbers))
        else:
            best = min(scored, key=lambda m: (scored[m]["ulira_acc"] or Cell(1, None, None, 0)).mean)
            b = scored[best]["ulira_acc"]
            text = (
                rf"On {s.label}, every one of the {len(scored)} methods judged is told apart from retraining by "
                rf"the population tests: none reaches the retrain twin's {metric_name('fq_F')} of "
                rf"{pp(twin['fq_F'])} or its {metric_name('ulira_acc')} of {pp(twin['ulira_acc'])}"
                + (rf"; the closest, \texttt{{{_tt(best)}}}, has {metric_name('ulira_acc')} {pp(b)}." if b else ".")
            )
            out.append(Finding("population_separates", text, s.name, (), {**numbers, "closest": best}))
    return out


def population_none_anywhere(results: Results) -> list[Finding]:
    """Across every scenario with populations: no method is indistinguishable from retraining by F or U-LiRA."""
    per = population_separates(results)
    if not per or any(f.methods for f in per):
        return []
    twins = [results.cell(s, TWIN, "ulira_acc") for s in results.scenarios]
    twins = [c for c in twins if c is not None]
    span = f"{pct(min(c.mean for c in twins))}--{pct(max(c.mean for c in twins))}\\,\\%"
    # The method closest to its scenario's null, by U-LiRA's margin over the twin's interval.
    margins = []
    for s in results.scenarios:
        twin = results.cell(s, TWIN, "ulira_acc")
        for m in results.judged(s) if twin is not None else ():
            u = results.cell(s, m, "ulira_acc")
            if u is not None:
                margins.append((u.low - twin.high, s, m, u))
    closest = ""
    if margins:
        _, s, m, u = min(margins, key=lambda t: t[0])
        closest = rf"; the closest, \texttt{{{_tt(m)}}} on {s.label}, scores {metric_name('ulira_acc')} {pp(u)}"
    text = (
        rf"No unlearning method is statistically indistinguishable from retraining by {metric_name('fq_F')} or "
        rf"{metric_name('ulira_acc')} on any of the {len(per)} scenarios with populations: two independent "
        rf"retrained populations score {metric_name('ulira_acc')} {span}, near chance, and every method's interval "
        rf"lies outside the retrain twin's{closest}."
    )
    short = (
        rf"No method is indistinguishable from retraining by {metric_name('fq_F')} or {metric_name('ulira_acc')} on "
        rf"any of the {len(per)} scenarios with populations (two retrained populations: {metric_name('ulira_acc')} "
        rf"{span}{closest})."
    )
    return [Finding("population_none_anywhere", text, None, (), {"scenarios": len(per)}, headline=True, short=short)]


def _gap_floor(results: Results, s: Scenario) -> tuple[Cell | None, dict[str, Cell]]:
    twin = results.cell(s, TWIN, GAP)
    gaps = {m: results.cell(s, m, GAP) for m in results.judged(s)}
    return twin, {m: c for m, c in gaps.items() if c is not None}


def gap_within_floor(results: Results) -> list[Finding]:
    """Per scenario: the methods whose average gap to retrain is within the retrain twin's (intervals overlap)."""
    out = []
    for s in results.scenarios:
        twin, gaps = _gap_floor(results, s)
        if twin is None or not gaps:
            continue
        within = [m for m, c in gaps.items() if c.mean <= twin.high]
        if not within:
            continue
        text = (
            rf"On {s.label}, {_count(len(within), len(gaps))} judged have a mean gap inside the retrain twin's "
            rf"interval ({gap_pp(twin)}): {names(within, s)}."
        )
        short = (
            rf"On {s.label}, {_count(len(within), len(gaps))} lie within the floor two retrainings differ by on "
            rf"SalUn's gap ({gap_pp(twin)}): {names(within, s)}."
        )
        out.append(Finding("gap_within_floor", text, s.name, tuple(within), {"twin_gap": twin.mean}, short=short))
    return out


def gap_blind_to_population(results: Results) -> list[Finding]:
    """Across scenarios: methods within the twin's floor on the gap that the population tests still tell from
    retraining (U-LiRA's interval above the twin's)."""
    parts, caught_all, example = [], [], None
    for s in results.scenarios:
        twin, gaps = _gap_floor(results, s)
        tw_u = results.cell(s, TWIN, "ulira_acc")
        if twin is None or tw_u is None:
            continue
        within = [m for m, c in gaps.items() if c.mean <= twin.high]
        caught = [m for m in within if (u := results.cell(s, m, "ulira_acc")) is not None and u.above(tw_u)]
        if not caught:
            continue
        caught_all += [m for m in caught if m not in caught_all]
        parts.append(rf"{s.label} ({'all ' if len(caught) == len(within) else ''}{len(caught)} of {len(within)})")
        best = min(caught, key=lambda m: gaps[m].mean)
        if example is None:
            example = (s, best, gaps[best], results.cell(s, best, "ulira_acc"), tw_u)
    if not parts:
        return []
    s, m, c, u, tw_u = example
    text = (
        rf"Matching retraining on the gap is not matching it on the population attack: methods within the twin's gap "
        rf"floor are told apart by {metric_name('ulira_acc')} on {', '.join(parts)}; for instance \texttt{{{_tt(m)}}} on "
        rf"{s.label}, gap {gap_pp(c)}, has {metric_name('ulira_acc')} {pp(u)} against the twin's {pp(tw_u)}."
    )
    return [Finding("gap_blind_to_population", text, None, tuple(caught_all), {"scenarios": len(parts)})]


def _output_forgets(results: Results, s: Scenario, method: str) -> bool | None:
    a, r = results.value(s, method, "acc_forget"), results.value(s, GOLD, "acc_forget")
    if a is None or r is None:
        return None
    return abs(a - r) * 100 <= OUTPUT_TOLERANCE_PP


PROBE = "probe_fewshot_acc_forgotten"


def probe_separates(results: Results, s: Scenario) -> bool:
    """Whether the few-shot probe tells the original from the retrained model on ``s`` (the original's mean
    above retrain's interval): without that, the probe cannot tell hiding from forgetting."""
    orig, gold = results.cell(s, ORIGINAL, PROBE), results.cell(s, GOLD, PROBE)
    return s.classes and orig is not None and gold is not None and orig.mean > gold.high


def hides(results: Results, s: Scenario, method: str) -> bool:
    """``method`` forgets at the output like retraining while the probe of its features reads the class as in
    the original (its interval overlaps the original's) and above retrain's interval."""
    if not probe_separates(results, s) or not _output_forgets(results, s, method):
        return False
    cell = results.cell(s, method, PROBE)
    return (
        cell is not None
        and cell.overlaps(results.cell(s, ORIGINAL, PROBE))
        and cell.above(results.cell(s, GOLD, PROBE))
    )


def forgets_features(results: Results, s: Scenario, method: str) -> bool:
    """``method`` forgets at the output and its probe's interval overlaps the retrained model's."""
    if not probe_separates(results, s) or not _output_forgets(results, s, method):
        return False
    cell = results.cell(s, method, PROBE)
    return cell is not None and cell.overlaps(results.cell(s, GOLD, PROBE))


def hiding(results: Results) -> list[Finding]:
    """Per class scenario: methods whose output forgets like retraining while the few-shot probe of their
    features still reads the class as well as in the original (hides), and those whose probe falls to
    retrain's (forgets in the features)."""
    out = []
    probe = PROBE
    for s in results.scenarios:
        if not probe_separates(results, s):
            continue  # the probe does not separate the references: it cannot tell hiding from forgetting
        orig, gold = results.cell(s, ORIGINAL, probe), results.cell(s, GOLD, probe)
        forgot = [m for m in results.judged(s) if _output_forgets(results, s, m)]
        hidden = [m for m in forgot if hides(results, s, m)]
        deep = [m for m in forgot if forgets_features(results, s, m)]
        if not hidden and not deep:
            continue
        text = (
            rf"On {s.label}, {_count(len(forgot), len(results.judged(s)))} judged forget at the output "
            rf"({metric_name('acc_forget')} within {OUTPUT_TOLERANCE_PP:g}\,pp of retraining's)"
        )
        if hidden:
            text += (
                rf", yet for {len(hidden)} of them ({names(hidden, s)}) a few-shot probe of the features still reads "
                rf"the class as in the original ({metric_name(probe)} {pp(orig)} for the original, {pp(gold)} for "
                r"the retrained model): they hide the class rather than forget it"
            )
        if deep:
            text += rf"; only {names(deep, s)} bring{'s' if len(deep) == 1 else ''} the probe to retraining's level"
        short = (
            rf"On {s.label}, {len(hidden)} of the {len(forgot)} methods that forget at the output hide the class from a "
            rf"few-shot probe ({pp(orig)} original, {pp(gold)} retrained): {names(hidden, s)}."
            if hidden
            else rf"On {s.label}, {len(deep)} of the {len(forgot)} methods that forget at the output also bring a "
            rf"few-shot probe to retraining's level ({pp(gold)})."
        )
        numbers = {"hide": len(hidden), "forget_features": len(deep)}
        out.append(Finding("hiding", text + ".", s.name, tuple(hidden), numbers, short=short))
    return out


def _pareto(points: dict[str, tuple[float, float]]) -> list[str]:
    """Methods no other beats in both speed-up (higher) and gap (lower)."""
    front = []
    for m, (speed, gap) in points.items():
        beaten = any(
            s2 >= speed and g2 <= gap and (s2, g2) != (speed, gap) for n2, (s2, g2) in points.items() if n2 != m
        )
        if not beaten:
            front.append(m)
    return sorted(front, key=lambda m: -points[m][0])


def frontier(results: Results) -> list[Finding]:
    """Per scenario: the cost frontier, the methods no other beats in both speed-up over retraining and gap."""
    out = []
    for s in results.scenarios:
        points = {}
        for m in results.judged(s):
            ratio, gap = results.value(s, m, "time_ratio_to_retrain"), results.value(s, m, GAP)
            if ratio and gap is not None and ratio > 0:
                points[m] = (1 / ratio, gap)
        if len(points) < 2:
            continue
        front = _pareto(points)
        parts = [rf"\texttt{{{_tt(m)}}} ({speedup(points[m][0])}, gap {pct(points[m][1])}\,pp)" for m in front]
        text = (
            rf"On {s.label}, the cost frontier (no other judged method is both faster and closer to retraining by "
            rf"the gap) is " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + "."
        )
        out.append(Finding("frontier", text, s.name, tuple(front), {m: points[m] for m in front}))
    return out


def worse_than_noop(results: Results) -> list[Finding]:
    """Per scenario: methods further from retraining by the gap than doing nothing (the original)."""
    out = []
    for s in results.scenarios:
        noop = results.cell(s, ORIGINAL, GAP)
        if noop is None:
            continue
        gaps = {m: results.cell(s, m, GAP) for m in results.methods(s) if results.mark(s, m) != "own gold standard"}
        worse = [m for m, c in gaps.items() if c is not None and c.above(noop)]
        if not worse:
            continue
        text = (
            rf"On {s.label}, doing nothing (the original, gap {gap_pp(noop)}) is closer to retraining than "
            rf"{names(worse, s)}, whose gap intervals lie above it."
        )
        out.append(Finding("worse_than_noop", text, s.name, tuple(worse), {"noop_gap": noop.mean}))
    return out


def output_blind(results: Results) -> list[Finding]:
    """Per random-sample scenario: the original's forget accuracy is already within the tolerance of
    retraining's, so output accuracy cannot show forgetting."""
    out = []
    for s in results.scenarios:
        if s.classes:
            continue
        o, r = results.cell(s, ORIGINAL, "acc_forget"), results.cell(s, GOLD, "acc_forget")
        if o is None or r is None or abs(o.mean - r.mean) * 100 > OUTPUT_TOLERANCE_PP:
            continue
        text = (
            rf"On {s.label}, the retrained model still classifies {pp(r)} of the forget set correctly and the "
            rf"original {pp(o)}: a random sample resembles the retained data, so {metric_name('acc_forget')} cannot "
            r"show whether a method forgot it."
        )
        out.append(Finding("output_blind", text, s.name, (), {"original": o.mean, "retrain": r.mean}))
    return out


def no_effect(results: Results) -> list[Finding]:
    """Runs that changed no weight or returned non-finite weights, which no table reads as forgetting."""
    out = []
    for s in results.scenarios:
        for m in results.methods(s):
            unchanged = results.value(s, m, "unchanged") or 0
            diverged = max(
                results.value(s, m, "diverged") or 0, results.value(s, m, "population_nonfinite_models") or 0
            )
            if unchanged > 0:
                text = (
                    rf"On {s.label}, \texttt{{{_tt(m)}}} changed no weight in {pct(unchanged)}\,\% of its runs; those "
                    r"runs are the original, not forgetting, and are never named best."
                )
                out.append(Finding("no_effect", text, s.name, (m,), {"unchanged": unchanged}, role="limitation"))
            if diverged > 0:
                text = (
                    rf"On {s.label}, \texttt{{{_tt(m)}}} returned non-finite weights; its numbers describe a broken "
                    r"model and are marked $^{\times}$."
                )
                out.append(Finding("no_effect", text, s.name, (m,), {"diverged": diverged}, role="limitation"))
    return out


def no_power(results: Results) -> list[Finding]:
    """Per scenario: the membership attacks that have no power on the original model."""
    out = []
    for s in results.scenarios:
        weak, numbers = [], {}
        for key, metric in METRICS.items():
            if not metric.power or metric.table is None:
                continue
            power = results.has_power(s, ORIGINAL, key)
            if power is False:
                weak.append(key)
                row = results.row(s, ORIGINAL, key)
                numbers[key] = (float(row.power), float(row.power_lo), float(row.power_hi))
        if not weak:
            continue
        parts = [
            rf"{metric_name(k)} (held-out accuracy {pct(numbers[k][0])}\,\% [{pct(numbers[k][1])}, {pct(numbers[k][2])}])"
            for k in weak
        ]
        its = "its" if len(weak) == 1 else "their"
        text = (
            rf"On {s.label}, {' and '.join(parts)} cannot tell the original's members from non-members better than "
            rf"chance, so {its} verdicts on the forget set are not evidence either way."
        )
        out.append(Finding("no_power", text, s.name, (), numbers, role="limitation"))
    return out


def own_gold_standard(results: Results) -> list[Finding]:
    """Methods whose exact counterpart is not the single retrained model, and which this run does not build."""
    present = sorted({m for s in results.scenarios for m in results.methods(s)})
    own = [m for m in present if m in METHODS and not judged_against_retrain(m)]
    if not own:
        return []
    text = (
        rf"{names(own)} {'is' if len(own) == 1 else 'are'} exact only against {'its' if len(own) == 1 else 'their'} "
        r"own gold standard (the same construction retrained on $D_r$), which this run does not build; "
        r"their rows carry numbers but no verdict against retraining."
    )
    return [Finding("own_gold_standard", text, None, tuple(own), {}, role="limitation")]


def consistent(results: Results) -> list[Finding]:
    """Across scenarios: the methods within the gap floor, and those on the frontier, on every scenario they ran."""
    out = []
    for test, what in ((gap_within_floor, "within the retrain twin's gap floor"), (frontier, "on the cost frontier")):
        per = {f.scenario: set(f.methods) for f in test(results)}
        if len(per) < 2:
            continue
        present = dict.fromkeys(m for s in results.scenarios for m in results.methods(s))
        ran = {m: [s.name for s in results.scenarios if m in results.methods(s) and s.name in per] for m in present}
        always = [m for m, where in ran.items() if len(where) >= 2 and all(m in per[w] for w in where)]
        if not always:
            continue
        text = rf"Across the {len(per)} scenarios, {names(always)} {'is' if len(always) == 1 else 'are'} {what} on every one {'it' if len(always) == 1 else 'they'} ran."
        out.append(Finding("consistent", text, None, tuple(always), {"of": test.__name__, "scenarios": len(per)}))
    return out


def searches_without_answer(results: Results) -> list[Finding]:
    """The hyperparameter searches the runs read whose trials were all over the time bound (or all stopped)."""
    failed: dict[str, list[str]] = {}
    for record in results.tuned:
        if not record.get("best") or not record.get("feasible", True):
            kind = str(record.get("kind", "")).replace("_", " ")
            failed.setdefault(record["method"], []).append(kind)
    if not failed:
        return []
    total = len({r["method"] for r in results.tuned})
    parts = [rf"\texttt{{{_tt(m)}}} ({', '.join(kinds)})" for m, kinds in sorted(failed.items())]
    text = (
        rf"For {len(failed)} of the {total} methods whose values come from a search, no trial of some searches "
        rf"finished within the time bound: {', '.join(parts)}. Those ran at the search's best slower values or at "
        r"their papers' defaults (Appendix~\ref{sec:setup-full}), so their cost and closeness are not what a "
        r"search inside the bound would give."
    )
    return [
        Finding("searches_without_answer", text, None, tuple(sorted(failed)), {"failed": len(failed)}, "limitation")
    ]


def population_one_seed(results: Results) -> list[Finding]:
    """The populations are drawn on one seed: their intervals are bootstraps over the models, not over seeds."""
    rows = results.summary[results.summary["metric"] == "fq_F"]
    sizes = results.summary.loc[results.summary["metric"] == "population_models", "mean"].dropna()
    if rows.empty or (rows["n"] > 1).any():
        return []
    n = "/".join(str(int(v)) for v in sorted(set(sizes))) or "?"
    text = (
        rf"The populations are drawn on one seed with $N = {n}$ models per side: {metric_name('fq_F')} and "
        rf"{metric_name('ulira_acc')} intervals are bootstraps over those models (approximate for "
        rf"{metric_name('fq_F')}, whose best threshold moves when a resample repeats models), not over seeds."
    )
    return [Finding("population_one_seed", text, None, (), {"models": n}, role="limitation")]


TESTS: dict[str, Callable[[Results], list[Finding]]] = {
    "population_none_anywhere": population_none_anywhere,
    "population_separates": population_separates,
    "gap_within_floor": gap_within_floor,
    "gap_blind_to_population": gap_blind_to_population,
    "hiding": hiding,
    "frontier": frontier,
    "worse_than_noop": worse_than_noop,
    "output_blind": output_blind,
    "no_effect": no_effect,
    "no_power": no_power,
    "own_gold_standard": own_gold_standard,
    "consistent": consistent,
    "searches_without_answer": searches_without_answer,
    "population_one_seed": population_one_seed,
}


def derive(results: Results) -> list[Finding]:
    """Every finding of every test, in :data:`TESTS` order; the first scenario's result findings are headlines."""
    found = [f for test in TESTS.values() for f in test(results)]
    head = results.scenarios[0].name if results.scenarios else None
    marked = []
    for f in found:
        headline = f.headline or (
            f.role == "result" and f.scenario == head and f.test in ("gap_within_floor", "hiding", "frontier")
        )
        if f.test == "population_separates" and not any(g.test == "population_none_anywhere" for g in found):
            headline = headline or f.scenario == head
        marked.append(Finding(f.test, f.text, f.scenario, f.methods, f.numbers, f.role, headline, f.short))
    return marked


# --------------------------------------------------------------------------- LaTeX

# The paper's places for findings (\lethefindings{PLACE}): place -> the tests whose findings it carries.
PLACES = {
    "population": ("population_none_anywhere", "population_separates"),
    "gap": ("gap_within_floor", "gap_blind_to_population", "worse_than_noop", "output_blind"),
    "hiding": ("hiding",),
    "frontier": ("frontier",),
    "conclusions": ("population_none_anywhere", "consistent", "gap_blind_to_population"),
}


def first_line(test: str) -> str:
    doc = (TESTS[test].__doc__ or test).strip().split("\n\n")[0]
    return " ".join(doc.split())


def conditions(results: Results | None) -> dict[str, bool]:
    """What the run has, for the paper's ``\\IfLethe{NAME}{then}{else}``: populations, class scenarios, a probe."""
    if results is None:
        return {}
    metrics = set(results.summary["metric"]) if "metric" in results.summary else set()
    return {
        "populations": bool(metrics & set(POPULATION_TESTS)),
        "classes": any(s.classes for s in results.scenarios),
        "probe": PROBE in metrics,
    }


def findings_latex(findings: Sequence[Finding], results: Results | None = None) -> str:
    """``findings.tex``: ``\\FindingsAbstract``, ``\\FindingsSummary`` (an itemize of the headlines),
    ``\\lethefindings{PLACE}`` for each of :data:`PLACES` and ``\\FindingsLimitations``.

    A place whose tests licensed nothing says which test ran and found nothing, never a result."""
    lines = ["% Generated by lethe.report.findings: do not edit. Every sentence below is a finding whose test passed."]
    head = [f for f in findings if f.headline]
    lines.append(r"\newcommand{\FindingsAbstract}{" + " ".join(f.short or f.text for f in head) + "}")
    items = "\n".join(rf"\item {f.short or f.text}" for f in head)
    lines.append(
        r"\newcommand{\FindingsSummary}{"
        + (rf"\begin{{itemize}}{items}\end{{itemize}}" if head else r"This run licensed no headline finding.")
        + "}"
    )
    lines.append(r"\newcommand{\LetheGapMembers}{" + gap_members() + "}")
    lines.append(r"\makeatletter")
    for place, tests in PLACES.items():
        texts = [f.text for f in findings if f.test in tests and f.role == "result"]
        if place == "conclusions":
            # What holds across scenarios; with none (a run of one scenario), the headline findings.
            texts = [f.text for f in findings if f.test in tests and f.scenario is None] or [
                f.short or f.text for f in findings if f.headline
            ]
        body = " ".join(dict.fromkeys(texts)) or (
            "No scenario passed "
            + ("this test" if len(tests) == 1 else "these tests")
            + ": "
            + "; ".join(first_line(t)[0].lower() + first_line(t)[1:].rstrip(".") for t in tests)
            + "."
        )
        lines.append(rf"\expandafter\def\csname lethe@findings@{place}\endcsname{{{body}}}")
    for name, present in conditions(results).items():
        if present:
            lines.append(rf"\expandafter\def\csname lethe@if@{name}\endcsname{{}}")
    lines.append(r"\newcommand{\IfLethe}[3]{\ifcsname lethe@if@#1\endcsname#2\else#3\fi}")
    lines.append(
        r"\newcommand{\lethefindings}[1]{\ifcsname lethe@findings@#1\endcsname\csname lethe@findings@#1\endcsname"
        r"\else\PackageError{lethe}{no findings place #1}{See lethe.report.findings.PLACES}\fi}"
    )
    lines.append(r"\makeatother")
    limits = [f.text for f in findings if f.role == "limitation"]
    lines.append(
        r"\newcommand{\FindingsLimitations}{"
        + ("\n".join(rf"\item {t}" for t in limits).join((r"\begin{itemize}", r"\end{itemize}")) if limits else "")
        + "}"
    )
    return "\n".join(lines) + "\n"
