"""Rule forgetting_quality: a method's population against retrain's (F, score, U-LiRA)."""

from lethe.stages.forgetting_quality import forgetting_quality


def main(job):
    forgetting_quality(
        (job.input.npz, job.input.record),
        (job.input.retrain_npz, job.input.retrain_record),
        job.output[0],
        shadow_paths=(job.input.shadow_npz, job.input.shadow_record) if job.input.get("shadow_npz") else None,
    )
