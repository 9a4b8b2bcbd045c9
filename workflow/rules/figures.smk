# Figures: each one a PDF for the paper and a PNG for `snakemake --report`, with a
# caption in workflow/report/. A figure's inputs are what it draws from, so an edit
# reruns only the figures that show it: the table figures read the tidy metrics table;
# the relearn curves every metrics JSON (they are not in the table); the FNN curves only
# FNN's run records; the GradCAM panels and confusion matrices only the original,
# retrain and the methods chosen under `figures.methods`.
# A figure with nothing to show (no FNN run, one class count, no relearn curves) says
# so in the image.


localrules:
    figure_trade_off,
    figure_frontier,
    figure_membership_inference,
    figure_cost_vs_classes,
    figure_hidden_vs_visible,
    figure_relearn_time,
    figure_relearn_curves,
    figure_fnn_curves,
    figure_confusion,
    figure_gradcam,


FIGURES = f"{PAPER}/figures"


rule figure_trade_off:
    input:
        code("table_figure"),
        tidy=f"{TABLES}/metrics.csv",
    output:
        pdf=f"{FIGURES}/trade_off.pdf",
        png=report(
            f"{FIGURES}/trade_off.png",
            caption="../report/trade_off.rst",
            category="Figures",
            subcategory="Forgetting and retention",
        ),
    log:
        f"results/logs/{config['name']}/figure_trade_off.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_trade_off.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        figure="trade_off",
    script:
        "../scripts/table_figure.py"


rule figure_frontier:
    input:
        code("table_figure"),
        tidy=f"{TABLES}/metrics.csv",
    output:
        pdf=f"{FIGURES}/frontier.pdf",
        png=report(
            f"{FIGURES}/frontier.png",
            caption="../report/frontier.rst",
            category="Figures",
            subcategory="Cost",
        ),
    log:
        f"results/logs/{config['name']}/figure_frontier.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_frontier.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        figure="frontier",
    script:
        "../scripts/table_figure.py"


rule figure_membership_inference:
    input:
        code("table_figure"),
        tidy=f"{TABLES}/metrics.csv",
    output:
        pdf=f"{FIGURES}/membership_inference.pdf",
        png=report(
            f"{FIGURES}/membership_inference.png",
            caption="../report/membership_inference.rst",
            category="Figures",
            subcategory="Forgetting or hiding",
        ),
    log:
        f"results/logs/{config['name']}/figure_membership_inference.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_membership_inference.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        figure="membership_inference",
    script:
        "../scripts/table_figure.py"


rule figure_cost_vs_classes:
    input:
        code("table_figure"),
        tidy=f"{TABLES}/metrics.csv",
    output:
        pdf=f"{FIGURES}/cost_vs_classes.pdf",
        png=report(
            f"{FIGURES}/cost_vs_classes.png",
            caption="../report/cost_vs_classes.rst",
            category="Figures",
            subcategory="Cost",
        ),
    log:
        f"results/logs/{config['name']}/figure_cost_vs_classes.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_cost_vs_classes.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        figure="cost_vs_classes",
    script:
        "../scripts/table_figure.py"


rule figure_hidden_vs_visible:
    input:
        code("table_figure"),
        tidy=f"{TABLES}/metrics.csv",
    output:
        pdf=f"{FIGURES}/hidden_vs_visible.pdf",
        png=report(
            f"{FIGURES}/hidden_vs_visible.png",
            caption="../report/hidden_vs_visible.rst",
            category="Figures",
            subcategory="Forgetting or hiding",
        ),
    log:
        f"results/logs/{config['name']}/figure_hidden_vs_visible.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_hidden_vs_visible.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        figure="hidden_vs_visible",
    script:
        "../scripts/table_figure.py"


rule figure_relearn_time:
    input:
        code("table_figure"),
        tidy=f"{TABLES}/metrics.csv",
    output:
        pdf=f"{FIGURES}/relearn_time.pdf",
        png=report(
            f"{FIGURES}/relearn_time.png",
            caption="../report/relearn_time.rst",
            category="Figures",
            subcategory="Forgetting or hiding",
        ),
    log:
        f"results/logs/{config['name']}/figure_relearn_time.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_relearn_time.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        figure="relearn_time",
    script:
        "../scripts/table_figure.py"


rule figure_relearn_curves:
    input:
        code("relearn_figure"),
        metrics=metrics_files(),
    output:
        pdf=f"{FIGURES}/relearn_curves.pdf",
        png=report(
            f"{FIGURES}/relearn_curves.png",
            caption="../report/relearn_curves.rst",
            category="Figures",
            subcategory="Forgetting or hiding",
        ),
    log:
        f"results/logs/{config['name']}/figure_relearn_curves.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_relearn_curves.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    script:
        "../scripts/relearn_figure.py"


rule figure_fnn_curves:
    input:
        code("fnn_figure"),
        runs=fnn_run_records(),
    output:
        pdf=f"{FIGURES}/fnn_curves.pdf",
        png=report(
            f"{FIGURES}/fnn_curves.png",
            caption="../report/fnn_curves.rst",
            category="Figures",
            subcategory="Forgetting layers (FNN)",
        ),
    log:
        f"results/logs/{config['name']}/figure_fnn_curves.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_fnn_curves.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    script:
        "../scripts/fnn_figure.py"


rule figure_confusion:
    input:
        code("confusion_figure"),
        metrics=figure_metrics(),
    output:
        pdf=f"{FIGURES}/confusion.pdf",
        png=report(
            f"{FIGURES}/confusion.png",
            caption="../report/confusion.rst",
            category="Figures",
            subcategory="Inside the models",
        ),
    log:
        f"results/logs/{config['name']}/figure_confusion.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_confusion.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        methods=FIGURE_METHODS,
        forget_set=FIGURE_FORGET_SET,
    script:
        "../scripts/confusion_figure.py"


rule figure_gradcam:
    input:
        code("saliency_figure"),
        models=figure_checkpoints(),
        npz=expand("results/data/{dataset}.npz", dataset=FIGURE_DATASETS),
        manifests=expand("results/data/{dataset}.json", dataset=FIGURE_DATASETS),
        forget_sets=expand(
            "results/forget_sets/{dataset}/{forget_set}.json",
            dataset=FIGURE_DATASETS,
            forget_set=FIGURE_FORGET_SET,
        ),
    output:
        pdf=f"{FIGURES}/gradcam.pdf",
        png=report(
            f"{FIGURES}/gradcam.png",
            caption="../report/gradcam.rst",
            category="Figures",
            subcategory="Inside the models",
        ),
    log:
        f"results/logs/{config['name']}/figure_gradcam.log",
    benchmark:
        f"results/benchmarks/{config['name']}/figure_gradcam.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        methods=FIGURE_METHODS,
        forget_set=FIGURE_FORGET_SET,
        images=config["figures"]["images"],
    script:
        "../scripts/saliency_figure.py"


PAPER_FIGURES = [
    rules.figure_trade_off.output.pdf,
    rules.figure_frontier.output.pdf,
    rules.figure_membership_inference.output.pdf,
    rules.figure_cost_vs_classes.output.pdf,
    rules.figure_hidden_vs_visible.output.pdf,
    rules.figure_relearn_time.output.pdf,
    rules.figure_relearn_curves.output.pdf,
    rules.figure_fnn_curves.output.pdf,
    rules.figure_confusion.output.pdf,
    rules.figure_gradcam.output.pdf,
]
