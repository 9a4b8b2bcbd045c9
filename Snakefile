# Lethe: a reproducible pipeline for machine-unlearning research.
# Contents page only: configuration, rule files, and the final target.
from snakemake.utils import min_version

min_version("9.0")


# Configuration: config/config.yaml unless --configfile names others (which then stand
# alone, with the schema's defaults); read and checked in workflow/rules/common.smk.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/unlearn.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/population.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


# Local runs: the warm worker that forks each job's process, and no job rate limiter
# (lethe.engine.workflow.LocalRun).
onstart:
    LOCAL_RUN.start()


onsuccess:
    LOCAL_RUN.stop()


onerror:
    LOCAL_RUN.stop()


rule all:
    input:
        f"results/paper/{config['name']}/paper.pdf",
