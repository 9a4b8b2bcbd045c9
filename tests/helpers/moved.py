"""How far a model moved the forget samples towards unseen data: the check of random-sample
forgetting (tests/methods/test_random_samples.py explains it; tests/methods/test_defining_terms.py uses it too).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from lethe.data.forget_sets import retain_indices


def mean_loss(model, split) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(model(split.x), split.y).item())


def moved(model, digits, forget) -> float:
    d_f = digits.train.subset(np.asarray(forget["indices"], dtype=np.int64))
    d_r = digits.train.subset(retain_indices(forget, len(digits.train)))
    l_f, l_r, l_v = (mean_loss(model, s) for s in (d_f, d_r, digits.val))
    return (l_f - l_r) / (l_v - l_r)
