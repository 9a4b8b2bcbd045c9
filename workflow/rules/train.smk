rule train_original:
    input:
        code("train_original"),
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
        **job_params(
            "train_original",
            recipe=config["train"],
            **RUNTIME,
        ),
    shell:
        JOB


# SISA's own original: one model per shard, trained slice by slice with a checkpoint after
# every stage. Only in the DAG when the `sisa` method runs (its unlearn jobs ask for it).
rule train_sisa:
    input:
        code("train_sisa"),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
    output:
        model=f"{MODELS}/sisa_original.safetensors",
        meta=f"{MODELS}/sisa_original.json",
        stages=f"{MODELS}/sisa_original.stages.safetensors",
    log:
        "results/logs/train_sisa/{dataset}/{arch}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_sisa/{dataset}/{arch}/seed{seed}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        **job_params(
            "train_sisa",
            hyper=PLAN.params["sisa"],
            **RUNTIME,
        ),
    shell:
        JOB


# ERM-KTP's own original: the config's recipe with class masks on the penultimate features,
# stored beside the weights. Only in the DAG when the `erm_ktp` method runs. It depends on
# erm_ktp's mask parameters only (the catalogue's original_keys), so tuning the transfer
# does not retrain it.
rule train_erm:
    input:
        code("train_erm"),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
    output:
        model=f"{MODELS}/erm_original.safetensors",
        meta=f"{MODELS}/erm_original.json",
        stages=f"{MODELS}/erm_original.stages.safetensors",
    log:
        "results/logs/train_erm/{dataset}/{arch}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_erm/{dataset}/{arch}/seed{seed}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        **job_params(
            "train_erm",
            recipe=config["train"],
            hyper=original_params("erm_ktp", PLAN.params["erm_ktp"]),
            **RUNTIME,
        ),
    shell:
        JOB


# The reference models that calibrate LiRA (lethe.populations.reference): K models of the original's
# architecture and recipe, each on a random half of train + test, in one job (batched with
# torch.func where the architecture has no batch normalisation). Only in the DAG when
# evaluation.reference_models > 0 (the evaluate jobs ask for them).
rule train_reference:
    input:
        code("train_reference"),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
    output:
        scores=f"{REFERENCES}/scores.npz",
        models=f"{REFERENCES}/models.safetensors",
        meta=f"{REFERENCES}/reference.json",
    log:
        "results/logs/train_reference/{dataset}/{arch}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_reference/{dataset}/{arch}/seed{seed}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        **job_params(
            "train_reference",
            recipe=config["train"],
            models=config["evaluation"]["reference_models"],
            **FLOAT32_RUNTIME,
        ),
    shell:
        JOB
