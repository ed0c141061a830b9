"""BIND 9's `named`, run by the lab as the zone lab's authoritative server.

`Bind(state_dir, base, zone_file, domain)` writes `STATE_DIR/named.conf` and runs
`named -g -4 -c STATE_DIR/named.conf` in the foreground (as the lab's user; its log, `-g` sends
everything to stderr, goes to `STATE_DIR/named.log`). The configuration: the state directory as
`directory`, pid file and session key there, no recursion, no rndc control channel
(`controls { };`), `listen-on port 53 { {base}.0.54; {base}.0.55; }` and no IPv6, and two views
chosen by the address a query arrives at (`match-destinations`), both serving the same zone
file as a primary zone:

- `transfer` on `{base}.0.54`: AXFR and IXFR allowed to 127.0.0.0/8;
- `no-transfer` on `{base}.0.55`: `allow-transfer { none; }`, so AXFR is REFUSED.

named listens only on addresses an interface holds (it never binds an address it does not see
on an interface, unlike the lab's Python servers), so `start` adds `{base}.0.54/32` and
`{base}.0.55/32` to `lo` (`ip addr add`, needs CAP_NET_ADMIN) when they are missing, and `stop`
removes only those it added. `start` returns once named answers a SOA query for the domain on
both addresses (within `START_SECONDS`); `stop` sends SIGTERM and kills named if it lingers.

Without `named` (looked for in PATH and /usr/sbin) `start` raises `BindMissing`, whose message is
the one line to show: install the Debian package bind9 (`make system-deps` does).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

log = logging.getLogger(__name__)

START_SECONDS = 15.0
STOP_SECONDS = 5.0
_POLL_SECONDS = 0.1
_QUERY_SECONDS = 0.5
_SBIN = "/usr/sbin"
LOOPBACK_INTERFACE = "lo"


class BindMissing(OSError):
    """named is not installed."""


class BindFailed(OSError):
    """named did not start, or did not answer in time; the message ends with its last log line."""


def find_named() -> str:
    """The path of `named`: from PATH, else /usr/sbin (not in a non-root user's PATH)."""
    path = shutil.which("named") or shutil.which("named", path=_SBIN)
    if path is None:
        raise BindMissing(
            "BIND's named is not installed (looked in PATH and /usr/sbin): "
            "install the Debian package bind9 (make system-deps does)"
        )
    return path


def named_conf(state_dir: Path, domain: str, zone_file: Path, transfer: str, refused: str) -> str:
    """The configuration: one zone, two views told apart by the address asked."""
    views = (("transfer", transfer, "127.0.0.0/8;"), ("no-transfer", refused, "none;"))
    lines = [
        "// Written by the hsts-coverage lab (hsts_coverage.lab.bind); rewritten at each start.",
        "options {",
        f'\tdirectory "{state_dir}";',
        f'\tpid-file "{state_dir / "named.pid"}";',
        f'\tsession-keyfile "{state_dir / "session.key"}";',
        f'\tmanaged-keys-directory "{state_dir}";',
        f"\tlisten-on port 53 {{ {transfer}; {refused}; }};",
        "\tlisten-on-v6 { none; };",
        "\trecursion no;",
        "\tallow-query { any; };",
        "\tnotify no;",
        "\tdnssec-validation no;",
        "};",
        "controls { };",
    ]
    for view, address, allowed in views:
        lines += [
            f'view "{view}" {{',
            f"\tmatch-destinations {{ {address}; }};",
            f"\tallow-transfer {{ {allowed} }};",
            f'\tzone "{domain}" {{ type primary; file "{zone_file}"; }};',
            "};",
        ]
    return "\n".join(lines) + "\n"


class Bind:
    """named serving `zone_file` for `domain` on `{base}.0.54` and `{base}.0.55`."""

    def __init__(
        self, state_dir: Path, domain: str, zone_file: Path, transfer: str, refused: str
    ) -> None:
        self.state_dir = state_dir
        self.domain = domain
        self.zone_file = zone_file
        self.transfer = transfer
        self.refused = refused
        self.conf = state_dir / "named.conf"
        self.log_path = state_dir / "named.log"
        self._process: asyncio.subprocess.Process | None = None
        self._added: list[str] = []

    @property
    def addresses(self) -> tuple[str, str]:
        return self.transfer, self.refused

    async def start(self) -> None:
        named = find_named()
        conf = named_conf(self.state_dir, self.domain, self.zone_file, *self.addresses)
        self.conf.write_text(conf)
        self._added = await asyncio.to_thread(add_addresses, self.addresses)
        with self.log_path.open("wb") as output:
            self._process = await asyncio.create_subprocess_exec(
                named, "-g", "-4", "-c", str(self.conf),
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        await self._wait_ready()
        log.info("bind: named %d serves %s on %s", self._process.pid, self.domain, self.addresses)

    async def stop(self) -> None:
        try:
            await self._end_process()
        finally:
            await asyncio.to_thread(remove_addresses, self._added)
            self._added = []

    async def _end_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            log.info("bind: named %d lingered after SIGTERM: killed", process.pid)
            process.kill()
            await process.wait()

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_SECONDS
        waiting = list(self.addresses)
        while waiting:
            assert self._process is not None
            if self._process.returncode is not None:
                raise BindFailed(f"named exited with {self._process.returncode}: {self._last()}")
            if loop.time() > deadline:
                raise BindFailed(f"named did not answer within {START_SECONDS:g} s: {self._last()}")
            if await self._answers(waiting[0]):
                waiting.pop(0)
            else:
                await asyncio.sleep(_POLL_SECONDS)

    async def _answers(self, address: str) -> bool:
        query = dns.message.make_query(self.domain, dns.rdatatype.SOA)
        try:
            reply = await dns.asyncquery.udp(query, address, timeout=_QUERY_SECONDS)
        except (dns.exception.DNSException, OSError):
            return False
        return reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)

    def _last(self) -> str:
        """named's last log line, for an error message (its log is in `log_path`)."""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return f"{lines[-1] if lines else 'no output'} (see {self.log_path})"


def add_addresses(addresses: Iterable[str]) -> list[str]:
    """Put each address on lo as a /32 unless an interface already holds it; those added."""
    held = _held_addresses()
    added: list[str] = []
    try:
        for address in addresses:
            if address not in held:
                _ip("add", address)
                added.append(address)
    except BaseException:
        remove_addresses(added)
        raise
    return added


def remove_addresses(addresses: Iterable[str]) -> None:
    for address in addresses:
        try:
            _ip("del", address)
        except (OSError, subprocess.CalledProcessError) as exc:
            log.info("bind: could not remove %s from %s: %s", address, LOOPBACK_INTERFACE, exc)


def _held_addresses() -> set[str]:
    output = _run_ip("-4", "-o", "addr", "show")
    # "1: lo    inet 127.0.0.1/8 scope host lo ..." -> "127.0.0.1"
    return {line.split()[3].split("/")[0] for line in output.splitlines() if " inet " in line}


def _ip(action: str, address: str) -> None:
    _run_ip("addr", action, f"{address}/32", "dev", LOOPBACK_INTERFACE)


def _run_ip(*arguments: str) -> str:
    ip = shutil.which("ip") or shutil.which("ip", path=f"{_SBIN}:/sbin")
    if ip is None:
        raise OSError("the ip command (iproute2) is not installed: the lab needs it for named")
    try:
        done = subprocess.run(
            [ip, *arguments], check=True, capture_output=True, text=True, env=_c_locale()
        )
    except subprocess.CalledProcessError as exc:
        raise OSError(f"ip {' '.join(arguments)}: {exc.stderr.strip() or exc}") from None
    return done.stdout


def _c_locale() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}
