"""The benchmark harness: a small end-to-end smoke run, the delaying proxy, and the lab's fleet
options and DNS answer cache that the benchmark relies on.

The smoke runs start their own lab and nginx on `$HSTS_BENCH_BASE` (default 127.69, apart from
the other tests' labs and from `make bench`'s 127.70) and assert the shape of
bench-results.json, never the numbers: this is not a timing test. They are skipped when nginx
is not installed (`make bench` installs it).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, DNSRecord

from hsts_coverage.bench.nginx import nginx_binary
from hsts_coverage.bench.process import measure
from hsts_coverage.bench.proxy import DelayProxy
from hsts_coverage.lab.dns import Zones, cache_key
from hsts_coverage.lab.scale import Fleet, FleetServe

RUN_FIELDS = {"round", "wall_s", "hosts_per_s", "cpu_s", "user_s", "sys_s", "max_rss_kib"}
RUN_FIELDS |= {"exit_code", "names", "checked", "statuses", "fleet_cpu_s", "scan", "problems"}
RUN_FIELDS |= {"pss_at_peak_kib"}
MEDIAN_FIELDS = {"wall_s", "hosts_per_s", "cpu_s", "max_rss_kib", "pss_at_peak_kib", "fleet_cpu_s"}
MACHINE_FIELDS = {"nproc", "cpu_model", "kernel", "python", "openssl", "nginx", "aiohttp"}
BENCH_SECONDS = 240

needs_nginx = pytest.mark.skipif(
    nginx_binary() is None, reason="nginx is not installed (apt-get install -y nginx-light)"
)


def run_bench(tmp_path: Path, *options: str) -> tuple[dict[str, Any], str]:
    """(bench-results.json, stdout) of a bench run that must succeed."""
    output = tmp_path / "bench-results.json"
    base = os.environ.get("HSTS_BENCH_BASE", "127.69")
    command = [sys.executable, "-m", "hsts_coverage.bench", "--base", base, "--rounds", "1"]
    command += ["--output", str(output), *options]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BENCH_SECONDS, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(output.read_text()), result.stdout


def assert_command(doc: dict[str, Any], name: str, names: int) -> None:
    command = doc["commands"][name]
    assert set(command["median"]) == MEDIAN_FIELDS
    [run] = command["runs"]
    assert set(run) == RUN_FIELDS
    assert (run["names"], run["checked"], run["problems"], run["exit_code"]) == (
        names,
        names,
        [],
        0,
    )
    assert run["wall_s"] > 0
    assert run["max_rss_kib"] > 1024  # KiB: a Python process takes megabytes


@pytest.mark.e2e
@needs_nginx
def test_a_small_bench_runs_end_to_end(tmp_path: Path) -> None:
    doc, stdout = run_bench(tmp_path, "--hosts", "50")
    assert doc["schema_version"] == 1
    assert doc["ok"] is True
    assert doc["problems"] == []
    assert set(doc["machine"]) >= MACHINE_FIELDS
    assert doc["config"]["hosts"] == 50
    assert (doc["config"]["names"], doc["config"]["per_address"]) == (51, 1)
    assert list(doc["commands"]) == ["scanner", "baseline"]
    assert_command(doc, "scanner", 51)
    assert_command(doc, "baseline", 51)
    [scan, baseline] = (doc["commands"][name]["runs"][0] for name in ("scanner", "baseline"))
    assert scan["statuses"] == {"ok": 51}
    assert scan["scan"]["enumeration"]["status"] == "complete"
    assert baseline["statuses"] == {"https 200": 51, "http 301": 51}
    assert baseline["scan"] is None
    ratio = doc["ratios"]["scanner/baseline"]
    assert len(ratio["per_round"]) == 1
    assert ratio["median"] == ratio["per_round"][0] > 0
    assert "scanner/baseline" in stdout


@pytest.mark.e2e
@needs_nginx
def test_the_latency_mode_adds_the_proxy_and_a_concurrent_scanner(tmp_path: Path) -> None:
    options = ("--hosts", "20", "--rtt-ms", "20", "--per-address", "2")
    doc, _ = run_bench(tmp_path, *options, "--latency-concurrency", "50")
    assert doc["ok"] is True
    assert (doc["config"]["addresses"], doc["config"]["rtt_ms"]) == (11, 20)
    assert list(doc["commands"]) == ["scanner", "baseline", "scanner-c50"]
    assert_command(doc, "scanner-c50", 21)
    assert doc["commands"]["scanner-c50"]["argv"][-2:] == ["--concurrency", "50"]
    assert set(doc["ratios"]) == {"scanner/baseline", "scanner-c50/baseline"}
    assert "proxy" in doc["commands"]["scanner"]["runs"][0]["fleet_cpu_s"]


@pytest.mark.e2e
@needs_nginx
def test_ctrl_c_stops_the_bench_and_its_fleet(tmp_path: Path) -> None:
    base = os.environ.get("HSTS_BENCH_BASE", "127.69")
    command = [sys.executable, "-m", "hsts_coverage.bench", "--base", base, "--hosts", "20"]
    command += ["--rounds", "500", "--output", str(tmp_path / "never.json")]
    with subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        # As from a terminal, whatever this test runs under (a background job ignores SIGINT).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as bench:
        assert bench.stderr is not None
        for line in bench.stderr:
            if "round 1 baseline" in line:
                break
        bench.send_signal(signal.SIGINT)
        rest = bench.stderr.read()
        assert bench.wait(timeout=60) == 130, rest
    assert "bench: interrupted" in rest
    assert "Traceback" not in rest
    assert not (tmp_path / "never.json").exists()
    lab = subprocess.run(["pgrep", "-f", f"hsts_coverage.lab --base {base} "], check=False)
    assert lab.returncode == 1  # no lab left behind (and so no fleet)


def test_peak_rss_counts_every_process_of_the_command(tmp_path: Path) -> None:
    # The command holds 60 MiB and runs a child that holds 60 MiB more at the same time: the
    # largest single process peaks near 70 MiB, the two together near 130.
    hold = "b = bytearray(60 << 20); b[::4096] = b'x' * len(b[::4096])"
    child = f"{hold}; import time; time.sleep(0.6)"
    parent = f"{hold}; import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    usage = measure(
        [sys.executable, "-c", parent], stdout=tmp_path / "out", stderr=tmp_path / "err"
    )
    assert usage.exit_code == 0, (tmp_path / "err").read_text()
    assert usage.max_rss_kib > 120 * 1024, usage


@pytest.mark.e2e
def test_the_pss_at_the_peak_counts_shared_pages_once(tmp_path: Path) -> None:
    # 60 MiB of memory shared by the command and its forked child, both touching every page:
    # each one's RSS holds all of it (the summed RSS 120 MiB and more), their PSS half each.
    script = (
        "import mmap, os, time\n"
        "shared = mmap.mmap(-1, 60 << 20)\n"
        "shared[::4096] = b'x' * len(shared[::4096])\n"
        "child = os.fork()\n"
        "touched = sum(shared[::4096])\n"
        "time.sleep(0.6)\n"
        "os._exit(0) if child == 0 else os.waitpid(child, 0)\n"
    )
    usage = measure(
        [sys.executable, "-c", script], stdout=tmp_path / "out", stderr=tmp_path / "err"
    )
    assert usage.exit_code == 0, (tmp_path / "err").read_text()
    assert usage.max_rss_kib > 120 * 1024, usage
    assert 60 * 1024 < usage.pss_at_peak_kib < 95 * 1024, usage


# -- the delaying proxy ----------------------------------------------------------------------

RTT = 0.2
SLACK = 0.15  # timers fire late on a busy machine, never early


async def echo_through_proxy(rtt: float) -> list[tuple[float, float]]:
    """(client to server, server to client) delays of two echoed messages through a proxy."""
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            arrivals.append(loop.time())
            writer.write(data)
        writer.close()

    upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
    proxy = DelayProxy({("127.0.0.1", 0): upstream.sockets[0].getsockname()[:2]}, rtt)
    await proxy.start()
    [(host, port)] = proxy.listening
    # The proxy's accept may run before open_connection returns, so the first message's delay
    # is counted from before the connect: the accept cannot come earlier than that.
    sent = loop.time()
    reader, writer = await asyncio.open_connection(host, port)
    delays = []
    for message in range(2):
        sent = sent if message == 0 else loop.time()
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        delays.append((arrivals[-1] - sent, loop.time() - arrivals[-1]))
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the end of stream goes round too
    writer.close()
    await asyncio.sleep(rtt + 0.05)
    assert proxy.connections == 0  # both ends of the pair closed
    await proxy.stop()
    upstream.close()
    await upstream.wait_closed()
    return delays


async def test_the_proxy_adds_half_the_rtt_each_way() -> None:
    (first_there, first_back), (there, back) = await echo_through_proxy(RTT)
    # The first bytes also wait for the connect's round trip, which loopback skips.
    assert RTT * 1.5 <= first_there < RTT * 1.5 + SLACK
    for delay in (first_back, there, back):
        assert RTT / 2 <= delay < RTT / 2 + SLACK


async def test_without_an_rtt_the_proxy_adds_nothing() -> None:
    for pair in await echo_through_proxy(0.0):
        assert max(pair) < SLACK


async def test_a_client_that_resets_after_its_end_of_stream_is_let_go() -> None:
    # As aiohttp does after a TLS close: the proxy stopped reading at the end of stream, so it
    # learns of the reset only when it passes the server's end of stream on.
    async def answer_at_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read())
        writer.close()

    upstream = await asyncio.start_server(answer_at_eof, "127.0.0.1", 0)
    proxy = DelayProxy({("127.0.0.1", 0): upstream.sockets[0].getsockname()[:2]}, 0.02)
    await proxy.start()
    [(host, port)] = proxy.listening
    for _ in range(5):
        _, writer = await asyncio.open_connection(host, port)
        writer.write(b"bye")
        writer.write_eof()
        await asyncio.sleep(0.01)
        writer.transport.abort()
    await asyncio.sleep(0.3)
    assert proxy.connections == 0
    await proxy.stop()
    upstream.close()
    await upstream.wait_closed()


# -- the lab's fleet options and DNS cache ---------------------------------------------------


def test_a_fleet_puts_k_hosts_on_each_address() -> None:
    fleet = Fleet("127.70", 5, 0.0, per_address=2, serve=FleetServe.DNS)
    assert [fleet.address(i) for i in range(5)] == [
        *["127.70.10.1"] * 2,
        *["127.70.10.2"] * 2,
        "127.70.10.3",
    ]
    assert fleet.addresses() == ["127.70.9.1", "127.70.10.1", "127.70.10.2", "127.70.10.3"]
    assert Fleet("127.70", 2).addresses() == ["127.70.9.1", "127.70.10.1", "127.70.10.2"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"per_address": 2}, "needs --fleet-serve dns"),
        ({"serve": FleetServe.DNS, "hang_percent": 10.0}, "--fleet-hang needs --fleet-serve all"),
        ({"per_address": 0, "serve": FleetServe.DNS}, "at least 1"),
    ],
)
def test_fleet_options_that_make_no_sense_are_refused(options: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Fleet("127.70", 10, **{"hang_percent": 0.0, **options})


def test_the_dns_cache_answers_with_the_query_id_and_spelling() -> None:
    zones = Zones([Fleet("127.70", 3, 0.0, serve=FleetServe.DNS).zone()])
    first = DNSRecord.question("h0002.fleet.test", "A")
    assert zones.handle(bytes(first.pack())) is not None
    again = DNSRecord.question("h0002.fleet.test", "A")
    again.header.id = (first.header.id + 1) % 65536
    reply = DNSRecord.parse(zones.handle(bytes(again.pack())))
    assert reply.header.id == again.header.id
    assert [(str(rr.rname), str(rr.rdata)) for rr in reply.rr] == [
        ("h0002.fleet.test.", "127.70.10.2")
    ]
    shouted = DNSRecord.parse(zones.handle(bytes(DNSRecord.question("H0002.FLEET.test").pack())))
    assert str(shouted.rr[0].rname) == "H0002.FLEET.test."
    nodata = DNSRecord.parse(
        zones.handle(bytes(DNSRecord.question("h0002.fleet.test", "AAAA").pack()))
    )
    assert (nodata.rr, nodata.auth[0].rtype) == ([], QTYPE.SOA)


def test_only_plain_queries_are_cached() -> None:
    query = DNSRecord.question("h0001.fleet.test", "A")
    assert cache_key(bytes(query.pack()), tcp=False) is not None
    response = bytes(query.reply().pack())
    assert cache_key(response, tcp=False) is None
    assert cache_key(bytes(query.pack())[:14], tcp=False) is None  # cut inside the question


@pytest.mark.e2e
@needs_nginx
def test_a_small_realistic_mix_runs_end_to_end(tmp_path: Path) -> None:
    # 120 names, mostly dead, silent or slow: every status as in the mix's manifest (exit 0).
    output = tmp_path / "bench-results.json"
    base = os.environ.get("HSTS_BENCH_BASE", "127.69")
    command = [sys.executable, "-m", "hsts_coverage.bench", "--base", base, "--rounds", "1"]
    command += ["--output", str(output), "--mix", "realistic", "--hosts", "120"]
    command += ["--scanner-args", "--no-guess"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BENCH_SECONDS, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads((tmp_path / "bench-results-realistic.json").read_text())
    assert doc["names"] == 120
    assert doc["wrong_statuses"] == {}
    assert doc["lower_bound_s"] >= 15  # the silent zone's DNS budget: 3 x 5 s
    assert doc["scanner_wall_s"] > 0
    assert doc["baseline_wall_s"] > 0
    assert "ratio to the bound" in result.stdout
