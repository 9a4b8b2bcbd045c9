# One rule for every method, `retrain` included: the gold standard is the `retrain`
# method's output, trained from scratch on the retain set with the original recipe.
# A method starts from the original model, or from one of its own (SISA's sharded
# ensemble from rule train_sisa): see original_inputs in common.smk.
rule unlearn:
    input:
        method_code,
        unpack(original_inputs),
        unpack(tuned_input),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
        forget_set="results/forget_sets/{dataset}/{forget_set}.json",
    output:
        model=f"{MODELS}/{{forget_set}}/{{method}}.safetensors",
        meta=f"{MODELS}/{{forget_set}}/{{method}}.json",
        run=f"{MODELS}/{{forget_set}}/{{method}}.run.json",
    log:
        "results/logs/unlearn/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.log",
    benchmark:
        "results/benchmarks/unlearn/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        **job_params(
            "unlearn",
            hyper=method_params,
            **RUNTIME,
        ),
    shell:
        JOB
