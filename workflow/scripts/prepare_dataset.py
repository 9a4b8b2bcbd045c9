"""Rule prepare_dataset: one dataset to results/data/{dataset}.npz and its manifest."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.data.datasets import prepare_dataset
from lethe.log import logged

with logged(snakemake.log[0]):
    prepare_dataset(
        snakemake.wildcards.dataset,
        snakemake.output.npz,
        snakemake.output.manifest,
        root=snakemake.params.root,
        idx_folder=snakemake.params.idx_folder,
        download=snakemake.params.download,
    )
