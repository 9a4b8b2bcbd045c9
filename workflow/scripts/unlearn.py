"""Rule unlearn: apply one method to one forget set (retrain: the gold standard)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.device import Runtime
from lethe.log import logged
from lethe.stages.unlearn import unlearn

with logged(snakemake.log[0]):
    unlearn(
        snakemake.wildcards.method,
        snakemake.input.npz,
        snakemake.input.manifest,
        snakemake.input.forget_set,
        snakemake.input.original,
        snakemake.params.hyper,
        int(snakemake.wildcards.seed),
        snakemake.output.model,
        snakemake.output.run,
        runtime=Runtime(
            snakemake.params.device, snakemake.params.amp, snakemake.params.memory_format, snakemake.threads
        ),
    )
