"""Readiness probes: one blocking HTTP/1.1 `GET /` at an address, as a fleet host must answer.

`expect_fleet_host(address, name, ca_bundle)` checks that `https://name/` at `address`
answers 200 with a certificate that verifies for `name` against the CA bundle, and that
`http://name/` answers 301 to `https://name/`; it returns None when both do, else what was
wrong (a connection refused while a server starts is a normal answer, not an exception).
`wait_for_fleet(...)` repeats that for a few hosts until they all pass or time runs out.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_TIMEOUT = 5.0
_POLL_SECONDS = 0.1
_HEAD_LIMIT = 16 * 1024


def get_head(
    address: str, port: int, name: str, context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str]]:
    """(status, lower-case header fields) of `GET /` with Host `name` at address:port, over TLS
    with SNI `name` when a context is given."""
    with socket.create_connection((address, port), timeout=_TIMEOUT) as raw:
        sock = raw if context is None else context.wrap_socket(raw, server_hostname=name)
        with sock:
            request = f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
            sock.sendall(request.encode())
            return _parse_head(_read_head(sock))


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < _HEAD_LIMIT:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0]


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return int(status_line.split()[1]), {k.strip().lower(): v.strip() for k, v in fields.items()}


def expect_fleet_host(address: str, name: str, ca_bundle: Path) -> str | None:
    """None if `name` at `address` serves 200 over verified HTTPS and 301 to it over HTTP."""
    context = ssl.create_default_context(cafile=str(ca_bundle))
    try:
        status, _ = get_head(address, 443, name, context)
        if status != 200:
            return f"https://{name}/ at {address}: status {status}, not 200"
        status, fields = get_head(address, 80, name)
    except (OSError, ValueError, IndexError) as exc:
        return f"{name} at {address}: {exc}"
    location = fields.get("location")
    if (status, location) != (301, f"https://{name}/"):
        return f"http://{name}/ at {address}: {status} to {location}, not 301 to https"
    return None


def wait_for_fleet(
    hosts: Sequence[tuple[str, str]],
    ca_bundle: Path,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
) -> str | None:
    """Probe each (address, name) until all pass (None) or `timeout` runs out or `alive()` is
    false: then the last problem seen."""
    deadline = time.monotonic() + timeout
    pending = list(hosts)
    problem: str | None = None
    while pending and alive() and time.monotonic() < deadline:
        problem = expect_fleet_host(*pending[0], ca_bundle)
        if problem is None:
            pending.pop(0)
        else:
            time.sleep(_POLL_SECONDS)
    if pending:
        return problem or "the server exited"
    return None
