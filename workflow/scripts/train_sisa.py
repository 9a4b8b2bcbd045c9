"""Rule train_sisa: train SISA's sharded, sliced ensemble (the model the sisa method unlearns from)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.device import Runtime
from lethe.log import logged
from lethe.stages.train_sisa import train_sisa

with logged(snakemake.log[0]):
    train_sisa(
        snakemake.input.npz,
        snakemake.input.manifest,
        snakemake.wildcards.arch,
        int(snakemake.wildcards.seed),
        snakemake.params.hyper,
        snakemake.output.model,
        snakemake.output.stages,
        runtime=Runtime(
            snakemake.params.device, snakemake.params.amp, snakemake.params.memory_format, snakemake.threads
        ),
    )
