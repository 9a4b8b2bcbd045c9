"""Rule train_original: train the original model of one dataset/arch/seed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.device import Runtime
from lethe.log import logged
from lethe.stages.train_original import train_original

with logged(snakemake.log[0]):
    train_original(
        snakemake.input.npz,
        snakemake.input.manifest,
        snakemake.wildcards.arch,
        int(snakemake.wildcards.seed),
        snakemake.params.recipe,
        snakemake.output.model,
        runtime=Runtime(
            snakemake.params.device, snakemake.params.amp, snakemake.params.memory_format, snakemake.threads
        ),
    )
