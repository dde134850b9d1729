"""The simulator's random streams: one seed, independent streams keyed by purpose (and by row)."""
from __future__ import annotations

import numpy as np

#: Streams of the one seed (numpy SeedSequence spawn keys).
(STREAM_SAMPLE, STREAM_MORPHOLOGY, STREAM_OBSERVING, STREAM_NEIGHBOURS, STREAM_NOISE, STREAM_PHOTOMETRY,
 STREAM_PSF_SHAPE) = range(7)


def stream(seed: int, key: int) -> np.random.Generator:
    """Independent random stream ``key`` of ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))
