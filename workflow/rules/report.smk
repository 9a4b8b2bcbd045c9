localrules:
    aggregate,
    paper_inputs,
    compile_paper,


GENERATED = f"{PAPER}/generated"


rule aggregate:
    input:
        code("report/aggregate.py", "metrics/stats.py"),
        metrics=metrics_files(),
    output:
        tidy=f"{TABLES}/metrics.csv",
        summary=report(
            f"{TABLES}/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        paired=f"{TABLES}/paired_vs_retrain.csv",
    log:
        f"results/logs/{config['name']}/aggregate.log",
    benchmark:
        f"results/benchmarks/{config['name']}/aggregate.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    script:
        "../scripts/aggregate.py"


rule paper_inputs:
    input:
        code("report/latex.py", "report/setup.py"),
        tidy=f"{TABLES}/metrics.csv",
        summary=f"{TABLES}/summary.csv",
        manifests=expand("results/data/{dataset}.json", dataset=config["datasets"]),
        forget_sets=expand(
            "results/forget_sets/{dataset}/{forget_set}.json",
            dataset=config["datasets"],
            forget_set=PLAN.forget_sets,
        ),
        originals=expand(
            f"{MODELS}/original.json",
            dataset=config["datasets"],
            arch=config["archs"],
            seed=config["seeds"],
        ),
    output:
        table=f"{GENERATED}/main_table.tex",
        families=f"{GENERATED}/families.tex",
        hiding=f"{GENERATED}/hiding_table.tex",
        costs=f"{GENERATED}/cost_table.tex",
        numbers=f"{GENERATED}/numbers.tex",
        setup=f"{GENERATED}/setup.tex",
    log:
        f"results/logs/{config['name']}/paper_inputs.log",
    benchmark:
        f"results/benchmarks/{config['name']}/paper_inputs.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        config={
            k: config[k]
            for k in ("datasets", "archs", "seeds", "train", "methods", "paper")
        },
        method_params={m: PLAN.params[m] for m in config["methods"]},
    script:
        "../scripts/paper_inputs.py"


rule compile_paper:
    input:
        code("report/paper.py"),
        main=str(REPO / "paper" / "main.tex"),
        sources=sorted(str(p) for p in (REPO / "paper").rglob("*") if p.is_file()),
        numbers=rules.paper_inputs.output.numbers,
        generated=rules.paper_inputs.output,
        figures=PAPER_FIGURES,
    output:
        report(f"{PAPER}/paper.pdf", caption="../report/paper.rst", category="Paper"),
    log:
        f"results/logs/{config['name']}/compile_paper.log",
    benchmark:
        f"results/benchmarks/{config['name']}/compile_paper.tsv"
    conda:
        "../../envs/latex.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        source_dir=lambda wildcards, input: Path(input.main).parent,
        generated_dir=lambda wildcards, input: Path(input.numbers).parent,
        build_dir=lambda wildcards, output: Path(output[0]).parent / "build",
        figures_dir=lambda wildcards, input: Path(input.figures[0]).parent,
    script:
        "../scripts/compile_paper.py"
