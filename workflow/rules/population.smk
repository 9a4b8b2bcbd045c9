# Populations (lethe.populations.runs): one method applied population.models times to the same
# original from independent unlearning seeds, on the first population.seeds seeds; retrain's
# population (N retrains) is what every other is compared with, retrain_twin's the null. Only
# in the DAG when population.models > 0 (the aggregate asks for their metrics).
rule population:
    input:
        population_code,
        unpack(original_inputs),
        unpack(tuned_input),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
        forget_set="results/forget_sets/{dataset}/{forget_set}.json",
    output:
        npz=f"{POPULATIONS}/{{method}}.npz",
        record=f"{POPULATIONS}/{{method}}.json",
    log:
        "results/logs/population/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.log",
    benchmark:
        "results/benchmarks/population/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        **job_params(
            "population",
            hyper=method_params,
            models=config["population"]["models"],
            **RUNTIME,
        ),
    shell:
        JOB


# The same population drawn from the shadow originals (run i starts from shadow original i,
# rule train_shadow), for U-LiRA as Hayes et al. define it; population.shadow turns it off.
use rule population as population_shadow with:
    input:
        population_code,
        unpack(original_inputs),
        unpack(tuned_input),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
        forget_set="results/forget_sets/{dataset}/{forget_set}.json",
        shadow_models=f"{SHADOWS}/models.safetensors",
        shadow_meta=f"{SHADOWS}/shadow.json",
    output:
        npz=f"{POPULATIONS}/shadow/{{method}}.npz",
        record=f"{POPULATIONS}/shadow/{{method}}.json",
    log:
        "results/logs/population_shadow/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.log",
    benchmark:
        "results/benchmarks/population_shadow/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.tsv"


# Shadow originals (lethe.populations.shadow): population.models models trained like the original from
# independent seeds, in one job (batched with torch.func where the architecture allows).
rule train_shadow:
    input:
        code("train_shadow"),
        npz="results/data/{dataset}.npz",
        manifest="results/data/{dataset}.json",
    output:
        models=f"{SHADOWS}/models.safetensors",
        meta=f"{SHADOWS}/shadow.json",
    log:
        "results/logs/train_shadow/{dataset}/{arch}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_shadow/{dataset}/{arch}/seed{seed}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        **job_params(
            "train_shadow",
            recipe=config["train"],
            models=config["population"]["models"],
            **FLOAT32_RUNTIME,
        ),
    shell:
        JOB


# A population against retrain's: the challenge's forgetting quality F and score, and
# U-LiRA's accuracy (lethe.metrics.quality), as a metrics JSON for the aggregate.
rule forgetting_quality:
    input:
        code("forgetting_quality"),
        unpack(shadow_population),
        npz=f"{POPULATIONS}/{{method}}.npz",
        record=f"{POPULATIONS}/{{method}}.json",
        retrain_npz=f"{POPULATIONS}/retrain.npz",
        retrain_record=f"{POPULATIONS}/retrain.json",
    output:
        f"{POPULATIONS}/{{method}}.quality.json",
    log:
        "results/logs/forgetting_quality/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.log",
    benchmark:
        "results/benchmarks/forgetting_quality/{dataset}/{arch}/seed{seed}/{forget_set}/{method}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        **job_params("forgetting_quality"),
    shell:
        JOB
