"""Waiting, inside a running event loop, until a condition holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds, failing the test after ``timeout`` seconds.

    :param condition: checked every 10 ms.
    :param what: the awaited state, for the failure message.
    :param timeout: seconds before the test fails.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)
