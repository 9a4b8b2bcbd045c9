"""Rule prepare_dataset: one dataset to results/data/{dataset}.npz and its manifest."""

from lethe.data.datasets import prepare_dataset


def main(job):
    prepare_dataset(
        job.wildcards.dataset,
        job.output.npz,
        job.output.manifest,
        root=job.params.root,
        idx_folder=job.params.idx_folder,
        download=job.params.download,
        validation=job.params.validation,
    )
