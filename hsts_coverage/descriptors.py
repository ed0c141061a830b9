"""The process's file descriptors: one wait, shared by every stage that opens sockets.

The scanner's own limit must never become a host's or a name server's failure. A socket is
opened here before any deadline starts: when the process is out of file descriptors (EMFILE,
ENFILE) it waits for one to be freed and tries again (`open_socket`; `opened` for a connection
whose socket the event loop opens, as the prober's are); a DNS query that c-ares could not send
for the same reason (it reports that as ECONNREFUSED) is asked again once a descriptor is free
(`waited_for_descriptor`, for the resolver). Both stages use it, so it sits below them, beside
the options.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

_T = TypeVar("_T")

FD_RETRY_SECONDS = 0.05  # between two tries to open a socket while out of descriptors
_OUT_OF_FDS = frozenset({errno.EMFILE, errno.ENFILE})
OUT_OF_FILES_MEMORY = 2.0  # seconds after running out during which a refusal is put down to it


class _OutOfFiles:
    last = -float("inf")  # when a socket last could not be opened for want of a descriptor


async def open_socket(address: str) -> socket.socket:
    """A non-blocking TCP socket for `address`, waiting for a file descriptor if none is free."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    while True:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            if exc.errno not in _OUT_OF_FDS:
                raise
            _OutOfFiles.last = time.monotonic()
            await asyncio.sleep(FD_RETRY_SECONDS)
            continue
        sock.setblocking(False)
        return sock


async def opened(
    connect: Callable[[], Awaitable[_T]],
    waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> _T:
    """`connect()`, which opens a socket first, tried again after a wait (inside `waiting()`:
    the caller's clock stops there) whenever the process is out of file descriptors."""
    while True:
        try:
            return await connect()
        except OSError as exc:
            if exc.errno not in _OUT_OF_FDS:
                raise
            _OutOfFiles.last = time.monotonic()
        with waiting():
            await asyncio.sleep(FD_RETRY_SECONDS)


async def waited_for_descriptor() -> bool:
    """Whether the process is (or was a moment ago) out of file descriptors, and if so, wait
    until one is free: c-ares reports a socket it could not open as ECONNREFUSED, which must not
    count against the name server."""
    sock = await open_socket("0.0.0.0")
    sock.close()
    return time.monotonic() - _OutOfFiles.last < OUT_OF_FILES_MEMORY
