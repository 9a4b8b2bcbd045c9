"""Many models at once, for the statistics that need them: populations of unlearning runs
(:mod:`.runs`, rule population), LiRA's reference models (:mod:`.reference`, rule
train_reference) and the shadow originals that U-LiRA's populations start from
(:mod:`.shadow`, rule train_shadow)."""
