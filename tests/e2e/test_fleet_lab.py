"""The scale fleet (`--fleet N`) over real sockets, on a small fleet of its own.

A lab with `--fleet 50` (10 % hanging) runs on `$HSTS_FLEET_BASE` for this module only: the
`fleet_lab` fixture (1000 hosts, for the scanner's scale test) takes the same base in other
modules, and module scope keeps the two from ever running at once.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from dnslib import RCODE

from hsts_coverage.lab.scale import raise_fd_limit

from .conftest import LabInfo, fleet_base, running_lab
from .test_lab import (
    TIMEOUT,
    answers,
    client_context,
    ct_get,
    ct_query,
    dns_query,
    http_at,
    lenient_context,
)

pytestmark = pytest.mark.e2e

HOSTS = 50
DOMAIN = "fleet.test"
HANGING = [f"h{n:04d}.{DOMAIN}" for n in (10, 20, 30, 40, 50)]  # every 10th at 10 %


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInfo]:
    yield from running_lab(tmp_path_factory, fleet_base(), "--fleet", str(HOSTS))


def host_name(n: int) -> str:
    return f"h{n:04d}.{DOMAIN}"


def expected_addresses(base: str) -> dict[str, str]:
    """Every fleet name -> its address: the apex on .9.1, host n on .10.n (n <= 250)."""
    hosts = {host_name(n): f"{base}.10.{n}" for n in range(1, HOSTS + 1)}
    return {DOMAIN: f"{base}.9.1", **hosts}


def test_lab_json_describes_the_fleet(fleet: LabInfo) -> None:
    expected = {"domain": DOMAIN, "hosts": HOSTS, "hanging": HANGING}
    assert fleet.fleet == expected
    assert json.loads((fleet.state_dir / "lab.json").read_text())["fleet"] == expected


def test_every_fleet_name_resolves_to_its_own_address(fleet: LabInfo) -> None:
    for name, address in expected_addresses(fleet.base).items():
        reply = dns_query(fleet, name, "A")
        assert answers(reply) == [(name, "A", address)]
    assert dns_query(fleet, host_name(HOSTS + 1), "A").header.rcode == RCODE.NXDOMAIN


def test_the_lab_domain_is_served_beside_the_fleet(fleet: LabInfo) -> None:
    assert answers(dns_query(fleet, fleet.name("www"), "A"))[0][2] == fleet.host("www")


@pytest.mark.parametrize("port", [443, 80])
def test_a_hanging_host_accepts_and_stays_silent(fleet: LabInfo, port: int) -> None:
    address = expected_addresses(fleet.base)[HANGING[0]]
    with socket.create_connection((address, port), timeout=TIMEOUT) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")  # the start of a TLS record, or not HTTP
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)


@pytest.mark.parametrize("name", [host_name(1), host_name(HOSTS - 1), DOMAIN])
def test_a_normal_host_redirects_to_https_and_answers_200(fleet: LabInfo, name: str) -> None:
    address = expected_addresses(fleet.base)[name]
    plain = http_at(address, name, 80)
    assert (plain.status, plain.headers["location"]) == (301, f"https://{name}/")
    assert http_at(address, name, 443, context=client_context(fleet)).status == 200


def test_the_fleet_shares_one_ecdsa_certificate(fleet: LabInfo) -> None:
    addresses = expected_addresses(fleet.base)
    first, other = (served_leaf(fleet, addresses[name], name) for name in (host_name(1), DOMAIN))
    assert first == other
    sans = first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == [f"*.{DOMAIN}", DOMAIN]
    assert isinstance(first.public_key(), ec.EllipticCurvePublicKey)


def served_leaf(fleet: LabInfo, address: str, name: str) -> x509.Certificate:
    # Unverified: verification is test_a_normal_host_redirects_to_https_and_answers_200's.
    with (
        socket.create_connection((address, 443), timeout=TIMEOUT) as raw,
        lenient_context(fleet).wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_ct_has_one_row_per_host(fleet: LabInfo) -> None:
    status, _, rows = ct_get(fleet, ct_query(DOMAIN))
    assert status == 200
    assert [row["name_value"] for row in rows] == [host_name(n) for n in range(1, HOSTS + 1)]
    lab_ids = {row["id"] for row in ct_get(fleet, ct_query(fleet.domain))[2]}
    ids = [row["id"] for row in rows]
    assert ids == sorted(set(ids))
    assert not lab_ids & set(ids)


def test_the_fd_limit_is_raised_to_the_hard_limit(fleet: LabInfo) -> None:
    limits = Path(f"/proc/{fleet.pid}/limits").read_text().splitlines()
    [line] = [line for line in limits if line.startswith("Max open files")]
    soft, hard = line.split()[3:5]
    assert soft == hard


def test_an_impossible_fd_limit_is_one_clear_line() -> None:
    # More than the kernel allows any process (fs.nr_open): setrlimit fails, nothing changes.
    beyond = int(Path("/proc/sys/fs/nr_open").read_text()) + 1
    with pytest.raises(OSError, match=r"needs about \d+ file descriptors") as failure:
        raise_fd_limit(beyond)
    assert "\n" not in str(failure.value)


def test_an_oversized_fleet_is_refused_in_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "hsts_coverage.lab", "--base", fleet_base()]
    command += ["--state-dir", str(tmp_path), "--fleet", "100000"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "lab: cannot start: a fleet holds 0 to 57500 hosts, not 100000" in line
