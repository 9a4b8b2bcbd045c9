"""Rule compile_paper: latexmk over paper/ with the generated files and figures, to paper.pdf."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from lethe.log import logged
from lethe.stages.compile_paper import compile_paper

with logged(snakemake.log[0]):
    compile_paper(
        snakemake.params.source_dir,
        snakemake.input.generated,
        snakemake.params.build_dir,
        snakemake.output[0],
        figures=snakemake.input.figures,
    )
