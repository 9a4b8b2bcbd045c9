"""The figure registry: one entry per figure of the paper and the report (torch-free).

``workflow/rules/figures.smk`` makes one named rule per entry (``figure_{name}``) in a
loop: its inputs are the entry's ``source`` (what it draws from, so an edit reruns only
the figures that show it), its outputs ``{name}.pdf`` (the paper) and ``{name}.png``
(the report, captioned by ``workflow/report/{name}.rst`` under ``subcategory``), its
stage ``lethe.stages.{stage}``. The paper build copies only these PDFs; a test
checks that every ``\\includegraphics`` of the paper names one of them and that the
figure table of docs/outputs.md is :func:`lethe.docs.figure_table`'s text.

Adding a figure: its drawing function (``lethe.report.figures``; for a figure drawn from
the tidy table alone, an entry in ``TABLE_FIGURES``), an entry here, its caption file and
its place in ``paper/sections/results.tex``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lethe.metrics.catalog import GAPS, METRICS

# The paper's page (paper/main.tex: article 10pt, letter paper, geometry margin=2.2cm), in inches:
# every figure is drawn at the size it is printed, so a font size in matplotlib is the size on paper.
PAPER_MARGIN_IN = 2.2 / 2.54
TEXT_WIDTH_IN = 8.5 - 2 * PAPER_MARGIN_IN
TEXT_HEIGHT_IN = 11.0 - 2 * PAPER_MARGIN_IN

# What a figure may draw from (the inputs figures.smk declares for each):
SOURCES = {
    "tidy": "the tidy metrics table (results/tables/NAME/metrics.csv)",
    "metrics": "every metrics JSON of the config",
    "fnn_runs": "FNN's run records",
    "confusion": "the metrics JSONs of the figures' forget set and methods (figures.methods)",
    "saliency": "the checkpoints, data and forget set of the figures' first seed, forget set and methods",
}


@dataclass(frozen=True)
class Figure:
    name: str
    source: str  # one of SOURCES
    stage: str  # lethe.stages.{stage} draws it
    subcategory: str  # the report's subcategory under "Figures"
    summary: str  # one line for the figure table of docs/outputs.md
    mem_mb: int = 2000
    # Where the paper prints it: \includegraphics[width=WIDTH\linewidth,height=HEIGHT\textheight,keepaspectratio].
    width: float = 1.0  # fraction of the text width; the figure is drawn this wide (figure_size)
    height: float = 0.4  # the most it may take of the text height; the figure is drawn no higher
    label: str = ""  # the paper's \label
    caption: str = ""  # the paper's caption (LaTeX); metric names from the metric catalogue
    metrics: tuple[str, ...] = ()  # the metric keys it draws (METRICS), its marks (diverged, unchanged) included


def _m(key: str) -> str:
    """Metric ``key``'s name as the tables print it (its LaTeX header in the metric catalogue)."""
    return METRICS[key].latex


def _names(keys) -> str:
    """``a, b and c`` of the metrics' LaTeX names."""
    names = [_m(k) for k in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


_GAP = (
    f"the average gap to retrain ({_m('avg_gap')}, SalUn's: the mean absolute difference to retrain on the same "
    f"seed and forget set over {_names(GAPS['avg_gap'])}, in percentage points)"
)
_MARKS = (
    f"A hollow marker with $\\times$ is a method whose weights {_m('diverged')} in some run, one with $=$ a method "
    f"that left them {_m('unchanged')}; neither is ever named as best or put on a front."
)
_HIGHLIGHT = (
    "Colour is the method's family, the marker the method within it; the methods not singled out are light grey. "
    "A coloured method's name is printed only where it fits without covering another name or a marker."
)
_DOTS = (
    "A row per method (grouped by family), a colour and marker per forget scenario; "
    "mean $\\pm$ std over seeds and draws."
)


def _tolerance() -> str:
    """The output tolerance of the hiding test (lethe.report.findings), for captions."""
    from lethe.report.findings import OUTPUT_TOLERANCE_PP

    return f"{OUTPUT_TOLERANCE_PP:g}"


def _own_gold() -> str:
    """The methods judged against a gold standard of their own, for captions (lethe.methods.catalog)."""
    from lethe.methods.catalog import METHODS, judged_against_retrain
    from lethe.report.latex import escape

    return ", ".join(rf"\texttt{{{escape(m)}}}" for m in METHODS if not judged_against_retrain(m))


# fmt: off
FIGURES: dict[str, Figure] = {
    f.name: f
    for f in (
        Figure(
            "trade_off", "tidy", "figure", "Forgetting and retention",
            "forget-set accuracy against retained-class test accuracy per method (mean ± std), retrain and original "
            "marked, the methods closest to retrain's trade-off coloured by family, a panel per scenario",
            width=1.0, height=0.4, label="fig:trade-off", metrics=("acc_forget", "acc_test_retained", "diverged", "unchanged"),
            caption=(
                f"Forgetting against retention: {_m('acc_forget')} (x) against {_m('acc_test_retained')} (y; the whole "
                "test set for random-sample forgetting), mean $\\pm$ std over seeds and draws, a panel per forget "
                "scenario. The retrained model (black star, dotted lines) is the target and the original model the "
                f"grey cross. Coloured and named: the methods no other beats both in closeness to retrain's "
                f"{_m('acc_forget')} and in {_m('acc_test_retained')}. {_HIGHLIGHT} {_MARKS}"
            ),
        ),
        Figure(
            "frontier", "tidy", "figure", "Cost",
            "average gap to retrain (pp) against speed-up over retrain (log) per method (mean ± std), the "
            "original's gap (a no-op) dashed, the Pareto-front methods coloured and named, a panel per scenario",
            width=1.0, height=0.4, label="fig:frontier",
            metrics=("avg_gap", "time_ratio_to_retrain", "diverged", "unchanged"),
            caption=(
                f"Gap to retrain against speed-up: {_GAP} (y) against the speed-up over retraining (x, log scale: "
                f"the inverse of {_m('time_ratio_to_retrain')}), mean $\\pm$ std over seeds and draws, a panel per forget scenario. "
                "Retraining is the reference at speed-up 1 and gap 0 (dotted lines); the dashed grey line is the "
                "original model's gap, what doing nothing scores. The methods on the Pareto front (no other method "
                "both faster and closer; runs that diverged or changed nothing, the retrain\\_twin (the floor) and "
                f"{_own_gold()} (judged against gold standards of their own) excluded) are coloured, named and "
                f"joined by the grey line. {_HIGHLIGHT} {_MARKS}"
            ),
        ),
        Figure(
            "membership_inference", "tidy", "figure", "Forgetting or hiding",
            "every MIA variant (a panel each) per method (a row each), the scenarios as series, retrain's mean ± std "
            "as a band per scenario",
            width=1.0, height=0.7, label="fig:mia",
            metrics=(
                "mia_entropy", "mia_entropy_logreg", "mia_efficacy", "mia_loss_auc", "mia_loss_acc", "mia_art_blackbox",
                "mia_art_blackbox_aligned", "mia_art_rule", "lira_online_auc_forget", "lira_offline_auc_forget",
                "diverged", "unchanged",
            ),
            caption=(
                "Membership inference on the forget set: every attack variant evaluated (panels: "
                f"{_names(k for k in METRICS if METRICS[k].mia)}). {_DOTS} The shaded band in a scenario's colour is "
                "the retrained model's mean $\\pm$ std there: a method that forgot falls in it. A hollow marker: the "
                "attack has no power on that method's models (the 95\\,\\% interval of its held-out accuracy contains "
                f"0.5), so its position is no verdict. A $\\times$ after a method's name: its weights {_m('diverged')} "
                f"in some run; $=$: they stayed {_m('unchanged')}."
            ),
        ),
        Figure(
            "cost_vs_classes", "tidy", "figure", "Cost",
            "unlearning time (log) against the number of forgotten classes (1, 2, 3, 6), the fastest methods coloured "
            "and named, the others grey",
            width=0.75, height=0.35, label="fig:cost", metrics=("unlearn_seconds", "diverged", "unchanged"),
            caption=(
                f"Unlearning time ({_m('unlearn_seconds')} in seconds here, log scale) against the number of forgotten "
                "classes, a line per method (mean over seeds, draws and forget sets with the same number of classes; "
                "class forgetting only; the dashed black line is retraining). Coloured and named: the fastest "
                f"methods at the largest number of classes. {_HIGHLIGHT} {_MARKS} A run with a single number of "
                "forgotten classes shows a note instead of lines."
            ),
        ),
        Figure(
            "hidden_vs_visible", "tidy", "figure", "Forgetting or hiding",
            "few-shot probe accuracy against output accuracy on the forgotten classes (hiding vs forgetting), the "
            "methods that forget at the output but keep the probe above retrain's coloured and named",
            width=1.0, height=0.35, label="fig:hidden",
            metrics=("acc_test_forgotten", "probe_fewshot_acc_forgotten", "acc_forget", "diverged", "unchanged"),
            caption=(
                f"Hidden or visible forgetting on the test images of the forgotten classes: {_m('probe_fewshot_acc_forgotten')}, "
                "a few-shot probe of the penultimate features (y), against the model's own accuracy "
                f"{_m('acc_test_forgotten')} (x), mean $\\pm$ std over seeds and draws, a panel per class-forgetting "
                "scenario (the y axis spans the probe's range). Above the diagonal the features still separate the "
                "classes the output no longer names; the retrained model (black star, dotted lines) is what a model "
                "that never saw them scores. Coloured and named: the methods that hide by the test of "
                f"Section~\\ref{{sec:hiding}}: {_m('acc_forget')} within {_tolerance()}\\,pp of retraining's, while "
                "the probe's 95\\,\\% interval overlaps the original's and lies above retrain's. "
                f"{_HIGHLIGHT} {_MARKS}"
            ),
        ),
        Figure(
            "relearn_time", "tidy", "figure", "Forgetting or hiding",
            "relearn epochs per method (a row each), the scenarios as series, retrain's as a band per scenario",
            width=1.0, height=0.55, label="fig:relearn",
            metrics=("relearn_epochs", "diverged", "unchanged"),
            caption=(
                f"Relearn time {_m('relearn_epochs')}: epochs of fine-tuning on part of the forget set until the "
                f"original's forget accuracy returns. {_DOTS} The band in a scenario's colour is retrain's mean "
                "$\\pm$ std; a hollow marker: some run hit the epoch cap without relearning (the mean is a lower "
                f"bound). A $\\times$ after a method's name: its weights {_m('diverged')} in some run; $=$: they "
                f"stayed {_m('unchanged')}."
            ),
        ),
        Figure(
            "relearn_curves", "metrics", "figure", "Forgetting or hiding",
            "forget accuracy before relearning and after each relearn epoch, a line per method (mean over seeds and "
            "draws), the methods relearning fastest and slowest coloured, the others grey, the target dashed",
            width=1.0, height=0.35, label="fig:relearn-curves", metrics=("relearn_epochs", "diverged", "unchanged"),
            caption=(
                "Relearn curves: accuracy on the held-out forget samples before relearning (epoch 0) and after each "
                "relearn epoch, a line per method (mean over seeds and draws; a run that reached the target early "
                "holds its last value), a panel per forget scenario; the dashed line is the relearn target. Coloured "
                f"and named: the methods that relearn fastest and slowest ({_m('relearn_epochs')}), with retrain and "
                f"the original. {_HIGHLIGHT} {_MARKS}"
            ),
        ),
        Figure(
            "lira_roc", "metrics", "figure", "Forgetting or hiding",
            "LiRA's ROC curves on log axes (online, calibrated on the reference models): the audit of each model and "
            "the verdict on its forget set, the methods whose forget set leaks most coloured, a row per scenario",
            width=1.0, height=0.8, label="fig:lira-roc",
            metrics=("lira_online_auc_audit", "lira_online_auc_forget", "diverged", "unchanged"),
            caption=(
                "LiRA's ROC curves (online, log axes), a row per forget scenario: the audit of each model (retained "
                "training samples against held-out test samples: how much an attacker learns at all, "
                f"{_m('lira_online_auc_audit')}) and the verdict on the forget set (forget samples against test "
                f"samples of their classes, {_m('lira_online_auc_forget')}), mean true-positive rate over seeds and "
                "draws, a line per method; the dotted diagonal is chance. Coloured: retrain, the original and the "
                f"methods whose forget set is most exposed ({_m('lira_online_auc_forget')} furthest from retrain's). "
                f"{_HIGHLIGHT} {_MARKS}"
            ),
        ),
        Figure(
            "forgetting_quality", "tidy", "figure", "Forgetting or hiding",
            "populations of unlearning runs against retrained models: forgetting quality F and U-LiRA accuracy "
            "(shadow originals; original known), a panel each, per method (a row each, mean ± 95 % interval), the "
            "scenarios as series, the retrain_twin null as a band",
            width=1.0, height=0.7, label="fig:population",
            metrics=("fq_F", "ulira_acc", "ulira_known_acc", "diverged", "unchanged"),
            caption=(
                f"Populations of unlearning runs against retrained models: forgetting quality {_m('fq_F')} and "
                f"U-LiRA's accuracy with shadow originals ({_m('ulira_acc')}) and with the original known "
                f"({_m('ulira_known_acc')}), a panel each; a row per method (grouped by family), a colour and marker "
                "per forget scenario, mean $\\pm$ the 95\\,\\% interval. The band in a scenario's colour is the "
                "retrain\\_twin population's (the null: what exact unlearning scores); U-LiRA's chance, 0.5, dashed. "
                f"A $\\times$ after a method's name: its weights {_m('diverged')} in some run; $=$: they stayed "
                f"{_m('unchanged')}. Left out: {_own_gold()}, whose gold standard is not the single retrained model."
            ),
        ),
        Figure(
            "fnn_curves", "fnn_runs", "figure", "Forgetting layers (FNN)",
            "FNN's per-epoch accuracy and MIA over its learning–unlearning turns, acceptance band shaded",
            width=1.0, height=0.4, label="fig:fnn",
            caption=(
                "FNN learning--unlearning curves, a panel per forgetting-rate scheme and scenario, a thin line per "
                "seed and draw: the accuracy its acceptance rule uses (solid), accuracy on the forget set (dotted) "
                "and the ART black-box MIA on the forget set (dashed, right axis). Shaded: the accuracy threshold, "
                "the MIA band 0.5 $\\pm$ tolerance and the unlearning epochs (grey); a star marks accepted runs."
            ),
        ),
        Figure(
            "confusion", "confusion", "figure", "Inside the models",
            "test confusion matrices of the original, the `figures.methods` and retrain",
            width=1.0, height=0.4, label="fig:confusion",
            caption=(
                "Test-set confusion matrices (rows: true class, normalised to 100\\,\\%; summed over seeds) of the "
                "original model, the methods of \\texttt{figures.methods} and the retrained model; the forgotten "
                "classes' rows are framed and their labels red, and each title gives their accuracy."
            ),
        ),
        Figure(
            "gradcam", "saliency", "saliency_figure", "Inside the models",
            "Grad-CAM (last conv layer) maps of the same models on forgotten- and retained-class test images; "
            "input-gradient saliency for the MLP, which has no conv layer",
            mem_mb=4000, width=0.8, height=0.6, label="fig:gradcam",
            caption=(
                "Where the models look: test images of the first forgotten class and of a retained class, and each "
                "model's Grad-CAM map (last convolutional layer; input-gradient saliency for the MLP, which has no "
                "convolutional layer), with its prediction and its probability of the true class."
            ),
        ),
    )
}
# fmt: on


def figure_size(name: str, height: float) -> tuple[float, float]:
    """(width, height) in inches at which to draw figure ``name``: its printed width, and ``height``
    capped at its printed height (so the paper includes it at scale 1)."""
    fig = FIGURES[name]
    return fig.width * TEXT_WIDTH_IN, min(height, fig.height * TEXT_HEIGHT_IN)


def print_scale(name: str, size: tuple[float, float]) -> float:
    """How much the paper scales a figure ``name`` drawn at ``size`` (inches): the smaller of its
    width's and its height's (\\includegraphics with keepaspectratio)."""
    fig = FIGURES[name]
    return min(fig.width * TEXT_WIDTH_IN / size[0], fig.height * TEXT_HEIGHT_IN / size[1])


def _fraction(value: float) -> str:
    return "" if value == 1 else f"{value:g}"


def figure_latex(name: str) -> str:
    """The paper's figure environment of figure ``name``: its PDF at its printed size, caption and label."""
    fig = FIGURES[name]
    size = f"width={_fraction(fig.width)}\\linewidth,height={_fraction(fig.height)}\\textheight,keepaspectratio"
    return (
        "\\begin{figure}[htbp]\n\\centering\n"
        f"\\includegraphics[{size}]{{figures/{name}.pdf}}\n"
        f"\\caption{{{fig.caption}}}\n\\label{{{fig.label}}}\n\\end{{figure}}\n"
    )


# The generated LaTeX of rule paper_inputs (lethe.stages.paper_inputs), output key -> file in
# results/paper/NAME/generated/, which the paper inputs as generated/FILE.
GENERATED = {
    "table": "main_table.tex",
    "families": "families.tex",
    "hiding": "hiding_table.tex",
    "lira": "lira_table.tex",
    "population": "population_table.tex",
    "costs": "cost_table.tex",
    "numbers": "numbers.tex",
    "setup": "setup.tex",
    "methods": "methods.tex",
    "setup_summary": "setup_summary.tex",
    "findings": "findings.tex",
    "findings_list": "findings.json",
    "overview": "overview.tex",
    "claims": "claims.tex",
    "figures": "figures.tex",
}


def rule_name(figure: str) -> str:
    """The Snakemake rule that draws ``figure``."""
    return f"figure_{figure}"
