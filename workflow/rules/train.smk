rule train_original:
    input:
        code("train.py", "models/registry.py"),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
    output:
        model=f"{MODELS}/original.safetensors",
        meta=f"{MODELS}/original.json",
    log:
        "results/logs/train_original/{dataset}/{arch}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_original/{dataset}/{arch}/seed{seed}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        recipe=config["train"],
        device=DEVICE,
    script:
        "../scripts/train_original.py"
