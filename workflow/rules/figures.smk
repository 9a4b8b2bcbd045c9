# Figures: one rule per entry of the figure registry (lethe.report.catalog), each a PDF
# for the paper and a PNG for `snakemake --report`, captioned by workflow/report/NAME.rst.
# A figure's inputs are what it draws from (its `source`), so an edit reruns only the
# figures that show it: the table figures read the tidy metrics table; the relearn curves
# every metrics JSON (they are not in the table); the FNN curves only FNN's run records;
# the GradCAM panels and confusion matrices only the original, retrain and the methods
# chosen under `figures.methods`.
# A figure with nothing to show (no FNN run, one class count, no relearn curves) says
# so in the image.
from lethe.report.catalog import FIGURES as FIGURE_REGISTRY, rule_name  # noqa: E402
from lethe.report.selection import (  # noqa: E402
    confusion_metrics,
    fnn_run_records,
    saliency_checkpoints,
)

FIGURES = f"{PAPER}/figures"


def figure_inputs(figure):
    """The declared inputs of a registry figure, by its `source`."""
    if figure.source == "tidy":
        return {"tidy": f"{TABLES}/metrics.csv"}
    if figure.source == "metrics":
        return {"metrics": metrics_files()}
    if figure.source == "fnn_runs":
        return {"runs": fnn_run_records(PLAN)}
    if figure.source == "confusion":
        return {"metrics": confusion_metrics(PLAN, FIGURE_SELECTION)}
    if figure.source == "saliency":
        return {
            "models": saliency_checkpoints(PLAN, FIGURE_SELECTION),
            "npz": expand(
                "results/data/{dataset}.npz", dataset=FIGURE_SELECTION.datasets
            ),
            "manifests": expand(
                "results/data/{dataset}.json", dataset=FIGURE_SELECTION.datasets
            ),
            "forget_sets": expand(
                "results/forget_sets/{dataset}/{forget_set}.json",
                dataset=FIGURE_SELECTION.datasets,
                forget_set=FIGURE_SELECTION.forget_set,
            ),
        }
    raise WorkflowError(f"figure {figure.name}: unknown source {figure.source!r}")


def figure_params(figure):
    """What a registry figure's stage needs besides its inputs: the figure's name, and the
    methods and forget set the selection shows (confusion matrices, GradCAM panels)."""
    params = {"figure": figure.name}
    if figure.source in ("confusion", "saliency"):
        params["methods"] = FIGURE_SELECTION.methods
        params["forget_set"] = FIGURE_SELECTION.forget_set
    if figure.source == "saliency":
        params["images"] = config["figures"]["images"]
    return params


for _figure in FIGURE_REGISTRY.values():

    rule:
        name:
            rule_name(_figure.name)
        input:
            code(_figure.stage),
            **figure_inputs(_figure),
        output:
            pdf=f"{FIGURES}/{_figure.name}.pdf",
            png=report(
                f"{FIGURES}/{_figure.name}.png",
                caption=f"../report/{_figure.name}.rst",
                category="Figures",
                subcategory=_figure.subcategory,
            ),
        log:
            f"results/logs/{config['name']}/{rule_name(_figure.name)}.log",
        benchmark:
            f"results/benchmarks/{config['name']}/{rule_name(_figure.name)}.tsv"
        localrule: True
        conda:
            "../../envs/lethe.yaml"
        threads: 1
        resources:
            mem_mb=_figure.mem_mb,
        params:
            **job_params(_figure.stage, **figure_params(_figure)),
        shell:
            JOB


# In registry order: the compile_paper rule copies exactly these into the build.
PAPER_FIGURES = [getattr(rules, rule_name(name)).output.pdf for name in FIGURE_REGISTRY]
