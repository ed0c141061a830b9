"""SIGINT and SIGTERM: a graceful stop of a running scan."""

from __future__ import annotations

import asyncio
import signal


class StopOnSignal:
    """SIGINT and SIGTERM stop the scan gracefully: no new probes, running ones cancelled, a
    summary marked interrupted. A second signal gets the default behaviour (stop at once)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.signal: int | None = None
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()

    def __enter__(self) -> StopOnSignal:
        for signum in _STOP_SIGNALS:
            self._loop.add_signal_handler(signum, self._stop, signum)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._restore()

    def _stop(self, signum: int) -> None:
        self.signal = signum
        self.event.set()
        self._restore()
        if self._task is not None:
            self._task.cancel()

    def _restore(self) -> None:
        for signum in _STOP_SIGNALS:
            self._loop.remove_signal_handler(signum)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
