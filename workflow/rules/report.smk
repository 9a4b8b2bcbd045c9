localrules:
    aggregate,
    paper_inputs,
    compile_paper,


from lethe.report.catalog import GENERATED as GENERATED_FILES  # noqa: E402

GENERATED = f"{PAPER}/generated"


rule aggregate:
    input:
        code("aggregate"),
        metrics=metrics_files(),
        quality=quality_files(),
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
    params:
        **job_params("aggregate"),
    shell:
        JOB


rule paper_inputs:
    input:
        code("paper_inputs"),
        tidy=f"{TABLES}/metrics.csv",
        summary=f"{TABLES}/summary.csv",
        manifests=expand("results/data/{dataset}.json", dataset=PLAN.datasets),
        forget_sets=[
            f"results/forget_sets/{dataset}/{forget_set}.json"
            for dataset, forget_set in PLAN.dataset_forget_sets()
        ],
        originals=[
            f"{MODELS}/original.json".format(dataset=dataset, arch=arch, seed=seed)
            for dataset, arch, seed in PLAN.models()
        ],
        tuned=PLAN.tuning.tuned_files(),
    output:
        **{key: f"{GENERATED}/{name}" for key, name in GENERATED_FILES.items()},
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
        **job_params(
            "paper_inputs",
            config=PLAN.setup_config(),
            method_params={
                m: PLAN.params[m] for m in PLAN.methods
            },  # before tuned values (tuned)
        ),
    shell:
        JOB


rule compile_paper:
    input:
        code("compile_paper"),
        main=os.path.relpath(REPO / "paper" / "main.tex"),
        sources=sorted(
            os.path.relpath(p) for p in (REPO / "paper").rglob("*") if p.is_file()
        ),
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
        **job_params(
            "compile_paper",
            source_dir=lambda wildcards, input: Path(input.main).parent,
            build_dir=lambda wildcards, output: Path(output[0]).parent / "build",
        ),
    shell:
        JOB
