"""Rule evaluate: metrics of one model (original or unlearned) on one forget set."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.device import Runtime
from lethe.log import logged
from lethe.stages.evaluate import evaluate

with logged(snakemake.log[0]):
    evaluate(
        snakemake.input.model,
        snakemake.input.npz,
        snakemake.input.manifest,
        snakemake.input.forget_set,
        snakemake.output[0],
        run_path=snakemake.input.get("run"),
        retrain_run_path=snakemake.input.get("retrain_run"),
        method=snakemake.wildcards.evaluated,
        batch_size=snakemake.params.batch_size,
        original_path=snakemake.input.original,
        retrain_path=snakemake.input.retrain,
        settings=snakemake.params.settings,
        runtime=Runtime(
            snakemake.params.device, snakemake.params.amp, snakemake.params.memory_format, snakemake.threads
        ),
    )
