"""One background event loop per :class:`~entra_lp.tenant.Tenant`, driven synchronously.

msgraph-sdk is async only and its httpx client is bound to the loop it first ran on, so the
sync facade keeps a single loop alive on a daemon thread and submits every coroutine to it.
This works from plain scripts and from Jupyter, whose own loop is already running in the
calling thread (``asyncio.run`` would refuse there).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from ..errors import TenantError

T = TypeVar("T")


class LoopThread:
    """A private event loop on a daemon thread; :meth:`run` blocks until a coroutine finishes."""

    def __init__(self, name: str = "entra-lp-graph") -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        self._closed = False

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The background loop (for code that must schedule on it directly)."""
        return self._loop

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T], timeout: float | None = None) -> T:
        """Run ``coro`` on the background loop and return its result (or raise its error)."""
        if self._closed:
            _discard(coro)
            raise TenantError("this Tenant is closed; connect again")
        if threading.current_thread() is self._thread:
            _discard(coro)
            raise TenantError("Tenant methods cannot be called from its own event loop thread")
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self._loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def close(self, timeout: float = 10.0) -> None:
        """Cancel what is still running, stop the loop and join the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _discard(awaitable: object) -> None:
    # Close a never-awaited coroutine so Python does not warn about it.
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
