"""Seed streams: independent, reproducible random streams derived from a run's seed (torch-free).

Every random draw of a run descends from its seed (the config's ``seeds``). Where one
run needs several independent streams (a shuffling order and random labels, a retain
subset and a model initialisation), each is ``derived_seed(seed, stream)``: the first
32-bit word of ``numpy.random.SeedSequence([seed, stream])``, the same in every process
and on every machine (unlike ``hash()``), and statistically independent across streams.
NumPy draws that take the entropy directly (``default_rng([seed, stream])``) use the same
SeedSequence mixing. Stream numbers are local to the module that draws them.
"""

from __future__ import annotations

import numpy as np


def derived_seed(*entropy: int) -> int:
    """A 32-bit seed for the stream named by ``entropy`` (``seed, stream, ...``)."""
    return int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1)[0])
