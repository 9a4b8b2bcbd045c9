"""Rule paper_inputs: the LaTeX table, number macros and setup section."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.stages.paper_inputs import paper_inputs

with logged(snakemake.log[0]):
    paper_inputs(
        snakemake.input.tidy,
        snakemake.input.summary,
        snakemake.params.config,
        snakemake.params.method_params,
        snakemake.input.manifests,
        snakemake.input.forget_sets,
        snakemake.input.originals,
        dict(snakemake.output.items()),
    )
