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


# fmt: off
FIGURES: dict[str, Figure] = {
    f.name: f
    for f in (
        Figure(
            "trade_off", "tidy", "figure", "Forgetting and retention",
            "forget-set accuracy against retained-class test accuracy per method (mean ± std), retrain and original "
            "marked, a panel per scenario",
        ),
        Figure(
            "frontier", "tidy", "figure", "Cost",
            "average gap to retrain (pp) against speed-up over retrain (log) per method (mean ± std), the "
            "original's gap (a no-op) dashed, the Pareto-front methods named, a panel per scenario",
        ),
        Figure(
            "membership_inference", "tidy", "figure", "Forgetting or hiding",
            "every MIA variant per method, with retrain's mean ± std as a band",
        ),
        Figure(
            "cost_vs_classes", "tidy", "figure", "Cost",
            "unlearning time (log) against the number of forgotten classes (1, 2, 3, 6) per method",
        ),
        Figure(
            "hidden_vs_visible", "tidy", "figure", "Forgetting or hiding",
            "few-shot probe accuracy against output accuracy on the forgotten classes (hiding vs forgetting)",
        ),
        Figure(
            "relearn_time", "tidy", "figure", "Forgetting or hiding",
            "relearn epochs per method, retrain's as a band",
        ),
        Figure(
            "relearn_curves", "metrics", "figure", "Forgetting or hiding",
            "forget accuracy before relearning and after each relearn epoch, a line per method (mean over seeds and "
            "draws; a run that reached the target early holds its last value), the target dashed",
        ),
        Figure(
            "lira_roc", "metrics", "figure", "Forgetting or hiding",
            "LiRA's ROC curves on log axes (online, calibrated on the reference models): the audit of each model and "
            "the verdict on its forget set, a line per method, a row per scenario",
        ),
        Figure(
            "forgetting_quality", "tidy", "figure", "Forgetting or hiding",
            "populations of unlearning runs against retrained models: forgetting quality F and U-LiRA accuracy "
            "(shadow originals; original known) per method (mean ± 95 % interval), the retrain_twin null as a band, a "
            "row per scenario",
        ),
        Figure(
            "fnn_curves", "fnn_runs", "figure", "Forgetting layers (FNN)",
            "FNN's per-epoch accuracy and MIA over its learning–unlearning turns, acceptance band shaded",
        ),
        Figure(
            "confusion", "confusion", "figure", "Inside the models",
            "test confusion matrices of the original, the `figures.methods` and retrain",
        ),
        Figure(
            "gradcam", "saliency", "saliency_figure", "Inside the models",
            "Grad-CAM (last conv layer) maps of the same models on forgotten- and retained-class test images; "
            "input-gradient saliency for the MLP, which has no conv layer",
            mem_mb=4000,
        ),
    )
}
# fmt: on


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
