"""Giving freed memory back to the operating system between stages."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util


def release_memory() -> None:
    """Return freed heap pages to the OS. glibc keeps the pages of big freed temporaries
    (numpy arrays, DuckDB buffers), which would otherwise add to the next stage's peak and
    stay in the process's footprint; a no-op where ``malloc_trim`` is missing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
