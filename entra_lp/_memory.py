"""Giving freed memory back to the operating system between stages."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys


def release_memory() -> None:
    """Return freed heap pages to the OS. glibc (and Arrow's own allocator) keep the pages of
    big freed temporaries (numpy arrays, Arrow batches), which would otherwise add to the next
    stage's peak and stay in the process's footprint; a no-op where neither applies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    arrow = sys.modules.get("pyarrow")  # only if loaded: never import it just for this
    if arrow is not None:
        with contextlib.suppress(AttributeError):
            arrow.default_memory_pool().release_unused()
