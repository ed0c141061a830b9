"""Waiting on another task's outcome costs no place among the hosts in flight.

A name under a zone whose first names are being looked up waits for their outcome
(`resolve/silent.py`), and a host waits for its address's turn (`--per-ip`): meanwhile it holds
no socket and spends no CPU, so the place it holds among the hosts in flight
(`probe/admission.py`) would only keep a live host from starting. The pipeline says, for each
host, how to give that place back for such a wait and take it again (`waiting_aside`); a stage
that waits on others does so inside `aside()`. A context variable, so that the resolver, a
lower stage, need not know the admission: outside a scan's host (a lookup of its own, a test)
`aside()` does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from contextvars import ContextVar

Aside = Callable[[], AbstractAsyncContextManager[None]]

_ASIDE: ContextVar[Aside | None] = ContextVar("aside", default=None)


def aside() -> AbstractAsyncContextManager[None]:
    """`async with aside():` around a wait on another task's outcome."""
    step = _ASIDE.get()
    return nullcontext() if step is None else step()


@contextmanager
def waiting_aside(step: Aside) -> Iterator[None]:
    """Within this block (and the tasks it starts), `aside()` is `step()`."""
    token = _ASIDE.set(step)
    try:
        yield
    finally:
        _ASIDE.reset(token)
