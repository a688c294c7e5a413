"""Vectorised random identifiers and seeded generators for the simulator.

Every random stream is derived from the user's seed and a fixed *purpose* tag (plus indices),
so that adding draws to one stream never shifts another: the directory, each principal's plan
and each day's rendering are reproducible on their own.
"""

from __future__ import annotations

import numpy as np

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
# Byte positions of the 32 hex digits inside the 36-character GUID text.
_GUID_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)], dtype=np.intp)

# Stream tags (never reorder: they are part of the seed derivation).
DIRECTORY, PRINCIPALS, PLAN, DAY, NOISE, TEMPLATES = 1, 2, 3, 4, 5, 6


def stream(seed: int, tag: int, *index: int) -> np.random.Generator:
    """An independent generator for ``(seed, tag, *index)``."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32, tag, *index])


def guids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random version-4 GUID strings (lower-case hex, as Entra writes them)."""
    if n <= 0:
        return []
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, _GUID_POS] = digits
    text = out.tobytes().decode("ascii")
    return [text[i:i + 36] for i in range(0, 36 * n, 36)]


def codes(rng: np.random.Generator, n: int, width: int = 5) -> list[str]:
    """``n`` random upper-case alphanumeric codes (the ``_AB12C_`` part of record ids)."""
    if n <= 0:
        return []
    text = _ALNUM[rng.integers(0, len(_ALNUM), size=n * width)].tobytes().decode("ascii")
    return [text[i:i + width] for i in range(0, width * n, width)]
