"""Rule prepare_dataset: one dataset to results/data/{dataset}.npz and its manifest.

An image folder's job has one more input, ``source``: its source stamp
(lethe.data.imagefolder.write_source_stamp, written when the workflow is parsed), which holds
the folder's spec.
"""

from __future__ import annotations

from lethe.data.datasets import prepare_dataset
from lethe.data.imagefolder import read_source_stamp


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    source = job.input.get("source")
    params = job.params
    prepare_dataset(
        job.wildcards.dataset,
        job.output.npz,
        job.output.manifest,
        root=params.root,
        idx_folder=params.idx_folder,
        download=params.download,
        validation=params.validation,
        imagefolder=None if source is None else read_source_stamp(source),
    )
