"""Rule make_forget_set: materialise one forget set as JSON (classes and indices)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.stages.make_forget_set import make_forget_set

with logged(snakemake.log[0]):
    make_forget_set(
        snakemake.input.npz,
        snakemake.input.manifest,
        snakemake.wildcards.forget_set,
        snakemake.params.spec,
        snakemake.output[0],
    )
