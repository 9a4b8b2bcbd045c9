# The tuning stage (lethe.tuning.search, lethe.tuning.values): for a method whose source is `search`
# (config key tuning), one hyperparameter search per dataset, architecture and forget-set
# kind, its trials in-process, on the tuning seed's original and retrained model and its
# forget-set draw (none of them reported). Its YAML is an input of that method's runs.
# The Optuna study (SQLite, under results/tuned/.../studies/) is not an output: it
# survives a failed or killed job, and the rerun resumes it.


rule tune:
    input:
        unpack(tune_inputs),
    output:
        tuned=TUNED,
    log:
        "results/logs/tune/{dataset}/{arch}/{method}-{kind}.log",
    benchmark:
        "results/benchmarks/tune/{dataset}/{arch}/{method}-{kind}.tsv"
    conda:
        "../../envs/lethe.yaml"
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=8000,
    params:
        **job_params(
            "tune",
            hyper=lambda wildcards: PLAN.params[wildcards.method],
            searched=lambda wildcards: sorted(
                PLAN.tuning.search_space(wildcards.method)
            ),
            space=lambda wildcards: {
                k: d.describe()
                for k, d in PLAN.tuning.search_space(wildcards.method).items()
            },
            fixed=lambda wildcards: config["method_params"].get(wildcards.method, {}),
            trials=config["tuning"]["trials"],
            time_fraction=config["tuning"]["time_fraction"],
            seed=config["tuning"]["seed"],
            studies=lambda wildcards: STUDIES.format(**wildcards),
            **RUNTIME,
        ),
    shell:
        JOB


# Every search the config asks for, without the runs that use them: `snakemake tuned`.
rule tuned:
    input:
        [
            TUNED.format(dataset=d, arch=a, method=m, kind=k)
            for d, a, m, k in PLAN.tuning.tune_jobs()
        ],
