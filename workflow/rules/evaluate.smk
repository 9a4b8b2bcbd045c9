rule evaluate:
    input:
        unpack(evaluated_inputs),
        code("evaluate"),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
        forget_set="results/forget_sets/{dataset}/{forget_set}.json",
    output:
        METRICS,
    log:
        "results/logs/evaluate/{dataset}/{arch}/seed{seed}/{forget_set}/{evaluated}.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}/{arch}/seed{seed}/{forget_set}/{evaluated}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        **job_params(
            "evaluate",
            batch_size=config["evaluation"]["batch_size"],
            settings={
                k: v for k, v in config["evaluation"].items() if k != "batch_size"
            },
            **RUNTIME,
        ),
    shell:
        JOB
