"""The metric catalogue: one entry per reported metric, read by tables, figures and statistics (torch-free).

Each :class:`Metric` holds every fact about a metric that more than one place needs:
its column header in LaTeX, its title in plots, how its numbers are printed, what
"best" means for it, which paper table shows it, which average gap to retrain it enters
(``GAPS``), whether it gets a paired test against retrain, whether each run writes its own
95 % interval beside it (``interval``: the tables show it where a cell has one run), whether
it comes from the populations of unlearning runs (``population``: rule forgetting_quality,
:mod:`lethe.metrics.quality`) rather than the evaluation, and for an attack the keys of
its power (``power``): an attack whose held-out accuracy has a 95 % interval that contains
chance has no power, and its verdict is never bolded. ``lethe.report.latex``
(tables, bolding, number macros), ``lethe.report.figures`` (the membership-inference
panels), ``lethe.metrics.stats`` (the gap) and ``lethe.stages.aggregate`` (the paired
tests) read it; nothing else lists metrics. ``tests/unit/test_catalogues.py`` checks that
every metric here is one the evaluation writes (or the aggregate derives, or rule
forgetting_quality writes).

Adding a metric: compute it in ``lethe.metrics`` (its key in the metrics JSON), add an
entry here, and it reaches the tables, bolding and macros that its fields ask for.
"""

from __future__ import annotations

from dataclasses import dataclass

# How a value is printed (lethe.report.latex.format_value): percent, fraction, one decimal,
# milliseconds from seconds, three significant digits.
KINDS = ("pct", "frac", "num", "ms", "ratio")
# What "best" means (lethe.report.latex.best_methods): highest, lowest, closest to retrain's mean.
GOALS = ("max", "min", "retrain")
# The paper's tables, in order: key -> what the table shows.
TABLES = {
    "main": "forgetting, retention and cost",
    "hiding": "forgetting or hiding: attacks, probe, relearn time, distance to retrain",
    "lira": "per-example membership inference calibrated on reference models (LiRA)",
    "population": "populations of unlearning runs against retrains: forgetting quality F, score, U-LiRA",
}


@dataclass(frozen=True)
class Metric:
    key: str  # the key in the metrics JSON / the tidy table's ``metric`` column
    latex: str  # column header in the paper's tables
    plot: str  # title or axis label in figures
    kind: str  # number format, one of KINDS
    goal: str  # what is best, one of GOALS
    table: str | None = None  # the paper table it is a column of (TABLES), None for none
    power: str | None = None  # an attack's verdict: the key of its power estimate (with _lo, _hi, _n beside it)
    paired: bool = False  # paired comparison with retrain in paired_vs_retrain.csv
    mia: bool = False  # a membership-inference variant (the membership-inference figure's panels)
    derived: bool = False  # computed by the aggregate from other metrics, not by the evaluation
    censor: str | None = None  # a 0/1 metric saying whether the run finished (else the value is its cap)
    interval: bool = False  # each run also writes its own 95 % interval (key + _lo, _hi): shown where one run is all
    # (Wilson's over the samples for an accuracy, a bootstrap over the models for F and U-LiRA, over the
    # forget examples for LiRA's verdict)
    population: bool = False  # written by rule forgetting_quality (lethe.metrics.quality), not by the evaluation
    # A verdict against the retrained model (a distance or attack between the method and retrain): for a method
    # whose own gold standard the pipeline does not build (lethe.methods.catalog.judged_against_retrain) the
    # tables print no value but "n/b"; kept in the CSVs.
    vs_retrain: bool = False


# fmt: off
METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("acc_forget", r"Acc$_f$", "Acc_f", "pct", "retrain", "main", paired=True, interval=True),
        Metric("acc_retain", r"Acc$_r$", "Acc_r", "pct", "max", "main", paired=True, interval=True),
        Metric("acc_test_retained", r"Acc$_{te,r}$", "Acc_te,r", "pct", "max", "main", paired=True, interval=True),
        Metric("acc_test_forgotten", r"Acc$_{te,f}$", "Acc_te,f", "pct", "retrain", "main", interval=True),
        Metric("unlearn_seconds", r"Time (ms)", "unlearning time (s)", "ms", "min", "main"),
        Metric("time_ratio_to_retrain", r"$t/t_{\mathrm{retrain}}$", "t / t_retrain", "ratio", "min", "main"),
        Metric("weight_change", r"$\|\Delta\theta\|/\|\theta^*\|$", "relative weight change", "ratio", "retrain"),
        Metric("unchanged", r"unchanged", "runs that changed no weight", "frac", "min"),
        Metric("diverged", r"diverged", "runs whose weights are not finite", "frac", "min"),
        Metric("mia_entropy", r"MIA$_{ent}$", "Entropy (SVC)", "pct", "retrain", "hiding", paired=True, mia=True, power="mia_entropy_attack_acc"),
        Metric("mia_entropy_logreg", r"MIA$_{ent,lr}$", "Entropy (log. reg.)", "frac", "retrain", mia=True, power="mia_entropy_logreg_attack_acc"),
        Metric("mia_efficacy", r"MIA$_{eff}$", "MIA-efficacy", "pct", "retrain", "hiding", paired=True, mia=True, power="mia_efficacy_attack_acc"),
        Metric("mia_loss_auc", r"AUC$_{loss}$", "Loss AUC", "frac", "retrain", "hiding", mia=True),
        Metric("mia_loss_acc", r"MIA$_{loss}$", "Loss attack acc.", "frac", "retrain", mia=True),
        Metric("mia_art_blackbox", r"MIA$_{bb}$", "ART black-box", "frac", "retrain", mia=True, power="mia_art_blackbox_attack_acc"),
        Metric("mia_art_blackbox_aligned", r"MIA$_{bb,al}$", "ART aligned", "frac", "retrain", mia=True, power="mia_art_blackbox_aligned_attack_acc"),
        Metric("mia_art_rule", r"MIA$_{rule}$", "ART rule-based", "frac", "retrain", mia=True, power="mia_art_rule_attack_acc"),
        Metric("lira_online_auc_audit", r"AUC$_{aud}$", "LiRA audit AUC (D_r vs test)", "frac", "retrain", "lira"),
        Metric("lira_online_tpr01_audit", r"TPR$_{0.1\%}$", "LiRA audit TPR at 0.1% FPR", "pct", "retrain", "lira"),
        Metric("lira_online_tpr1_audit", r"TPR$_{1\%}$", "LiRA audit TPR at 1% FPR", "pct", "retrain", "lira"),
        Metric("lira_online_tpr5_audit", r"TPR$_{5\%}$", "LiRA audit TPR at 5% FPR", "pct", "retrain", "lira"),
        Metric("lira_offline_auc_audit", r"AUC$_{aud,off}$", "offline LiRA audit AUC", "frac", "retrain", "lira"),
        Metric("lira_online_auc_forget", r"AUC$_f$", "LiRA AUC on D_f", "frac", "retrain", "lira", paired=True, mia=True, power="lira_online_auc_audit", interval=True),
        Metric("lira_online_tpr1_forget", r"TPR$_{1\%,f}$", "LiRA TPR at 1% FPR on D_f", "pct", "retrain", "lira", power="lira_online_auc_audit", interval=True),
        Metric("lira_offline_auc_forget", r"AUC$_{f,off}$", "offline LiRA AUC on D_f", "frac", "retrain", "lira", mia=True, power="lira_offline_auc_audit"),
        Metric("lira_offline_tpr1_forget", r"TPR$_{1\%,f,off}$", "offline LiRA TPR at 1% FPR on D_f", "pct", "retrain", "lira", power="lira_offline_auc_audit"),
        Metric("probe_fewshot_acc_forgotten", r"Probe$_f$", "few-shot probe accuracy", "pct", "retrain", "hiding"),
        Metric("relearn_epochs", r"$R_t$ (ep.)", "relearn epochs", "num", "retrain", "hiding", censor="relearn_reached"),
        Metric("js_to_retrain", r"JS$_{rt}$", "JS divergence to retrain", "frac", "min", "hiding", vs_retrain=True),
        Metric("zrf", "ZRF", "ZRF", "frac", "retrain", "hiding"),
        Metric("fq_F", r"$F$", "forgetting quality F", "pct", "max", "population", interval=True, population=True, vs_retrain=True),
        Metric("fq_score", "Score", "challenge score F·RA·TA", "pct", "max", "population", interval=True, population=True, vs_retrain=True),
        Metric("ulira_acc", r"U-LiRA", "U-LiRA accuracy (shadow originals)", "pct", "min", "population", interval=True, population=True, vs_retrain=True),
        Metric("ulira_known_acc", r"U-LiRA$_{orig}$", "U-LiRA accuracy (original known)", "pct", "min", "population", interval=True, population=True, vs_retrain=True),
        Metric("avg_gap", "Gap", "avg gap to retrain (SalUn)", "pct", "min", "hiding", paired=True, derived=True, vs_retrain=True),
        Metric("avg_gap_entropy", r"Gap$_{ent}$", "avg gap to retrain (entropy MIA)", "pct", "min", derived=True, vs_retrain=True),
    )
}
# fmt: on


def table_columns(table: str) -> list[Metric]:
    """The metrics of paper table ``table``, in column order."""
    if table not in TABLES:
        raise ValueError(f"table_columns: unknown table {table!r}; known: {sorted(TABLES)}")
    return [m for m in METRICS.values() if m.table == table]


# The average gaps to retrain (lethe.metrics.stats.avg_gap): name -> the metrics averaged.
# ``avg_gap`` is SalUn's (Fan et al., ICLR 2024, "Avg. Gap"): unlearning accuracy (1 - Acc_f,
# so |Δ| is Acc_f's), remaining accuracy, test accuracy (of the retained classes under class
# forgetting) and MIA-efficacy. ``avg_gap_entropy`` is the same with the entropy MIA in place
# of MIA-efficacy.
GAPS: dict[str, tuple[str, ...]] = {
    "avg_gap": ("acc_forget", "acc_retain", "acc_test_retained", "mia_efficacy"),
    "avg_gap_entropy": ("acc_forget", "acc_retain", "acc_test_retained", "mia_entropy"),
}
GAP_METRICS = GAPS["avg_gap"]
# An attack's power, per run (lethe.metrics.intervals): its held-out accuracy at telling
# members from non-members (the audit AUC for LiRA), under the catalogue's ``power`` key,
# with its 95 % interval and sample count under that key + these suffixes.
POWER_SUFFIXES = ("lo", "hi", "n")
CHANCE = 0.5
PAIRED_METRICS = tuple(m.key for m in METRICS.values() if m.paired)
MIA_METRICS = tuple(m.key for m in METRICS.values() if m.mia)
INTERVAL_METRICS = tuple(m.key for m in METRICS.values() if m.interval)
POPULATION_METRICS = tuple(m.key for m in METRICS.values() if m.population)
VS_RETRAIN_METRICS = frozenset(m.key for m in METRICS.values() if m.vs_retrain)
PERCENT_METRICS = frozenset(m.key for m in METRICS.values() if m.kind == "pct")
