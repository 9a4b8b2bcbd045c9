rule prepare_dataset:
    input:
        code("prepare_dataset"),
        unpack(dataset_source),
    output:
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
    log:
        "results/logs/prepare_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        **job_params(
            "prepare_dataset",
            root=config["data"]["root"],
            idx_folder=config["data"]["fashion_mnist_idx"],
            download=config["data"]["download"],
            validation=config["data"]["validation"],
        ),
    shell:
        JOB


rule make_forget_set:
    input:
        code("make_forget_set"),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
    output:
        "results/forget_sets/{dataset}/{forget_set}.json",
    log:
        "results/logs/make_forget_set/{dataset}/{forget_set}.log",
    benchmark:
        "results/benchmarks/make_forget_set/{dataset}/{forget_set}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        **job_params(
            "make_forget_set",
            spec=forget_spec,
        ),
    shell:
        JOB
