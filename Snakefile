# Lethe: a reproducible pipeline for machine-unlearning research.
# Contents page only: configuration, rule files, and the final target.
from snakemake.utils import min_version

min_version("9.0")


# The default config, unless --configfile names others: those then stand alone (with the
# schema's defaults) instead of being merged key by key into this one.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/unlearn.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        f"results/paper/{config['name']}/paper.pdf",
