"""Rule train_sisa: train SISA's sharded, sliced ensemble (the model the sisa method unlearns from)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.stages.train_sisa import train_sisa_original

with logged(snakemake.log[0]):
    train_sisa_original(
        snakemake.input.npz,
        snakemake.input.manifest,
        snakemake.wildcards.arch,
        int(snakemake.wildcards.seed),
        snakemake.params.hyper,
        snakemake.output.model,
        snakemake.output.stages,
        device=snakemake.params.device,
        amp=snakemake.params.amp,
        memory_format=snakemake.params.memory_format,
        threads=snakemake.threads,
    )
