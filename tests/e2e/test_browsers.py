"""The scanner speaks and judges like Chrome and Firefox: for each lab host made to tell the
browsers apart from a naive client, the exact reason and both browsers' errors, end to end.

One scan of these hosts (`--no-ct`, a names file) serves the table; every case that breaks has
a twin that works (the same RSA certificate over ECDHE, an RSA-1024 key from a private root).
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from hsts_coverage.probe.tls import ALPN, CHROME_CIPHERS, _set_chrome_lists, verified_context
from tests.helpers import LabInfo, Run, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e

# label -> (status, reason codes in order, Chrome's error, Firefox's error) of the first reason
CASES: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "dhe-only": (
        "breaks",
        ("tls_cipher_mismatch",),
        "ERR_SSL_VERSION_OR_CIPHER_MISMATCH",
        "SSL_ERROR_NO_CYPHER_OVERLAP",
    ),
    "p521-only": (
        "breaks",
        ("tls_cipher_mismatch",),
        "ERR_SSL_VERSION_OR_CIPHER_MISMATCH",
        "SSL_ERROR_NO_CYPHER_OVERLAP",
    ),
    "plain-443": (
        "breaks",
        ("tls_protocol_error",),
        "ERR_SSL_PROTOCOL_ERROR",
        "SSL_ERROR_RX_RECORD_TOO_LONG",
    ),
    "tls-reset": ("breaks", ("https_reset",), "ERR_CONNECTION_RESET", "NS_ERROR_NET_RESET"),
    "hang-tls": ("breaks", ("https_timeout",), "ERR_CONNECTION_TIMED_OUT", "NS_ERROR_NET_TIMEOUT"),
    "tls10": (
        "breaks",
        ("tls_version_unsupported",),
        "ERR_SSL_VERSION_OR_CIPHER_MISMATCH",
        "SSL_ERROR_UNSUPPORTED_VERSION",
    ),
    "weak-key": (
        "breaks",
        ("cert_weak_key",),
        "NET::ERR_CERT_WEAK_KEY",
        "MOZILLA_PKIX_ERROR_INADEQUATE_KEY_SIZE",
    ),
    "md5": (
        "breaks",
        ("cert_invalid",),
        "NET::ERR_CERT_INVALID",
        "SEC_ERROR_CERT_SIGNATURE_ALGORITHM_DISABLED",
    ),
    "sha1": (
        "breaks",
        ("cert_weak_signature",),
        "NET::ERR_CERT_WEAK_SIGNATURE_ALGORITHM",
        "SEC_ERROR_CERT_SIGNATURE_ALGORITHM_DISABLED",
    ),
    "ca-as-leaf": (
        "breaks",
        ("cert_name_mismatch",),
        "NET::ERR_CERT_COMMON_NAME_INVALID",
        "SSL_ERROR_BAD_CERT_DOMAIN",
    ),
    "conflicting-length": (
        "breaks",
        ("https_conflicting_length",),
        "ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH",
        "NS_ERROR_CORRUPTED_CONTENT",
    ),
    "empty-response": (
        "breaks",
        ("https_empty_response",),
        "ERR_EMPTY_RESPONSE",
        "NS_ERROR_NET_EMPTY_RESPONSE",
    ),
    "huge-headers": (
        "breaks",
        ("https_invalid_response",),
        "ERR_RESPONSE_HEADERS_TOO_BIG or ERR_INVALID_HTTP_RESPONSE",
        "NS_ERROR_CORRUPTED_CONTENT",
    ),
    "chunked-aia": (
        "warn",
        ("incomplete_chain",),
        "none (Chrome fetches the intermediate from the AIA URL)",
        "none (Firefox has the intermediate preloaded or fetches it)",
    ),
    "early-hints": ("ok", (), "", ""),
    "folded-header": ("ok", (), "", ""),
    "same-length-twice": ("ok", (), "", ""),
    "chunked-and-length": ("ok", (), "", ""),
    "h2-only": ("ok", (), "", ""),
    "h2-redirect": (
        "breaks",
        ("redirect_to_http",),
        "ERR_TOO_MANY_REDIRECTS",
        "NS_ERROR_REDIRECT_LOOP",
    ),
    "www": ("ok", (), "", ""),
    "revoked-crl": (
        "breaks",
        ("cert_revoked",),
        "NET::ERR_CERT_REVOKED if Chrome's CRLSet lists it (see detail), else none",
        "SEC_ERROR_REVOKED_CERTIFICATE",
    ),
    "revoked-ocsp": (
        "breaks",
        ("cert_revoked",),
        "NET::ERR_CERT_REVOKED if Chrome's CRLSet lists it (see detail), else none",
        "SEC_ERROR_REVOKED_CERTIFICATE",
    ),
    "good-crl": ("ok", (), "", ""),
    "good-ocsp": ("ok", (), "", ""),
    "dead-revocation": (
        "warn",
        ("revocation_unchecked",),
        "none (Chrome does not check revocation online)",
        "none (Firefox goes on when OCSP fails; CRLite may still know)",
    ),
    "before-distrust": ("ok", (), "", ""),
    "distrusted-chrome": (
        "breaks",
        ("cert_distrusted_chrome",),
        "NET::ERR_CERT_AUTHORITY_INVALID",
        "none (Firefox still trusts it)",
    ),
    "distrusted-firefox": (
        "breaks",
        ("cert_distrusted_firefox",),
        "none (Chrome still trusts it)",
        "MOZILLA_PKIX_ERROR_ISSUER_NO_LONGER_TRUSTED",
    ),
    "distrusted": (
        "breaks",
        ("cert_distrusted",),
        "NET::ERR_CERT_AUTHORITY_INVALID",
        "MOZILLA_PKIX_ERROR_ISSUER_NO_LONGER_TRUSTED",
    ),
    "rsa-1024": ("ok", (), "", ""),
    "rsa-ecdhe": ("ok", (), "", ""),
}


@pytest.fixture(scope="module")
def browser_scan(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("browsers")
    names = tmp / "names.txt"
    names.write_text("".join(f"{lab.name(label)}\n" for label in CASES), encoding="utf-8")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    return hsts_coverage([*args, "--no-progress"], tmp)


@pytest.mark.parametrize("label", list(CASES))
def test_each_host_gets_the_browsers_reason_and_errors(
    lab: LabInfo, browser_scan: Run, label: str
) -> None:
    status, reasons, chrome, firefox = CASES[label]
    record = browser_scan.hosts()[lab.name(label)]
    assert (record["status"], tuple(r["code"] for r in record["reasons"])) == (status, reasons)
    if reasons:
        first = record["reasons"][0]
        assert (first["chrome_error"], first["firefox_error"]) == (chrome, firefox)


def test_a_dhe_only_server_is_told_apart_from_plain_http(lab: LabInfo, browser_scan: Run) -> None:
    dhe = browser_scan.hosts()[lab.name("dhe-only")]
    assert dhe["https"]["outcome"] == "tls_failed"
    assert dhe["https"]["cipher"].startswith("DHE-RSA-")
    assert dhe["https"]["cipher"] not in CHROME_CIPHERS
    assert "DHE-RSA-" in dhe["reasons"][0]["detail"]
    plain = browser_scan.hosts()[lab.name("plain-443")]
    assert plain["https"]["cipher"] is None  # nothing negotiated: not TLS at all


def test_the_answer_after_early_hints_is_the_one_taken(lab: LabInfo, browser_scan: Run) -> None:
    https = browser_scan.hosts()[lab.name("early-hints")]["https"]
    # The 103 carried max-age=0; browsers take neither its status nor its header.
    assert (https["status"], https["strict_transport_security"]) == (200, ["max-age=300"])


def test_an_http2_only_server_is_read_over_http2(lab: LabInfo, browser_scan: Run) -> None:
    https = browser_scan.hosts()[lab.name("h2-only")]["https"]
    assert (https["alpn"], https["status"]) == ("h2", 200)
    assert https["strict_transport_security"] == ["max-age=600"]
    hops = browser_scan.hosts()[lab.name("h2-redirect")]["redirects"]["hops"]
    assert hops[0]["location"] == f"http://h2-redirect.{lab.domain}/"
    assert browser_scan.hosts()[lab.name("www")]["https"]["alpn"] == "http/1.1"


def test_an_http2_only_server_refuses_a_client_that_offers_http_1_1_only(lab: LabInfo) -> None:
    # The twin of the test above: what a client without h2 in ALPN gets from the same server.
    context = verified_context(Path(lab.ca_bundle))
    context.set_alpn_protocols(["http/1.1"])
    with (
        socket.create_connection((lab.host("h2-only"), 443), timeout=3) as raw,
        context.wrap_socket(raw, server_hostname=lab.name("h2-only")) as tls,
    ):
        assert tls.selected_alpn_protocol() is None
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {lab.name('h2-only')}\r\n\r\n".encode())
        answer = tls.recv(65536)
    assert not answer.startswith(b"HTTP/1.")  # HTTP/2 frames (SETTINGS, GOAWAY) at most


def test_revocation_facts_in_the_record(lab: LabInfo, browser_scan: Run) -> None:
    def revocation(label: str) -> dict[str, str | None]:
        facts: dict[str, str | None] = browser_scan.hosts()[lab.name(label)]["https"]["revocation"]
        return facts

    assert revocation("revoked-crl")["method"] == "crl"
    assert revocation("good-crl")["status"] == "good"
    ocsp = revocation("revoked-ocsp")
    assert (ocsp["status"], ocsp["method"]) == ("revoked", "ocsp")
    assert "key_compromise" in (ocsp["detail"] or "")
    assert (ocsp["chrome_crlset"] or "").startswith("may be in its CRLSet")
    assert revocation("good-ocsp")["status"] == "good"
    assert revocation("dead-revocation")["status"] == "unchecked"
    assert browser_scan.hosts()[lab.name("www")]["https"]["revocation"] is None


def _crl_fetches(lab: LabInfo) -> int:
    lines = (lab.state_dir / "ct-requests.log").read_text().splitlines()
    return sum('"path": "/crl/lab.crl"' in line for line in lines)


def test_a_crl_is_fetched_once_per_scan(lab: LabInfo, tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text(f"{lab.name('revoked-crl')}\n{lab.name('good-crl')}\n", encoding="utf-8")
    before = _crl_fetches(lab)
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    run = hsts_coverage([*args, "--no-apex-check"], tmp_path)
    assert run.hosts()[lab.name("revoked-crl")]["status"] == "breaks"
    assert _crl_fetches(lab) - before == 1  # two hosts, one CRL URL, one fetch


DISTRUSTED = ("distrusted-chrome", "distrusted-firefox", "distrusted")


def test_without_the_distrust_rows_the_retired_roots_are_trusted(
    lab: LabInfo, tmp_path: Path
) -> None:
    names = tmp_path / "names.txt"
    names.write_text("".join(f"{lab.name(label)}\n" for label in DISTRUSTED), encoding="utf-8")
    options = [o for o in lab_options(lab) if o not in ("--distrust-file", lab.distrust_file)]
    args = ["scan", lab.domain, *options, "--no-ct", "--names-file", str(names), "--no-apex-check"]
    run = hsts_coverage(args, tmp_path)
    assert {run.hosts()[lab.name(label)]["status"] for label in DISTRUSTED} == {"ok"}


def test_a_bad_distrust_file_is_one_line_and_exit_2(lab: LabInfo, tmp_path: Path) -> None:
    bad = tmp_path / "distrust.json"
    bad.write_text('[{"sha256": "12"}]', encoding="utf-8")
    run = hsts_coverage(["scan", lab.domain, "--distrust-file", str(bad)], tmp_path)
    assert run.code == 2
    assert run.stderr.strip().count("\n") == 0
    assert "64 hexadecimal digits" in run.stderr


def test_the_offer_has_only_chrome_suites() -> None:
    assert ALPN == ("h2", "http/1.1")  # as browsers offer them
    offered = {cipher["name"] for cipher in verified_context(None).get_ciphers()}
    assert offered <= CHROME_CIPHERS
    assert not any(name.startswith(("DHE-", "EDH-")) or "3DES" in name for name in offered)
    assert not any(name.endswith("SHA384") and "GCM" not in name for name in offered)


def _handshake(lab: LabInfo, label: str, context: ssl.SSLContext) -> None:
    with (
        socket.create_connection((lab.host(label), 443), timeout=3) as raw,
        context.wrap_socket(raw, server_hostname=lab.name(label)),
    ):
        pass


def test_a_p521_only_server_fails_only_with_chromes_groups(lab: LabInfo) -> None:
    context = verified_context(Path(lab.ca_bundle))
    with pytest.raises(ssl.SSLError) as failure:
        _handshake(lab, "p521-only", context)
    assert failure.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
    openssl_defaults = ssl.create_default_context(cafile=lab.ca_bundle)  # P-521 among them
    _handshake(lab, "p521-only", openssl_defaults)


def test_chromes_lists_are_set_through_openssl() -> None:
    assert _set_chrome_lists(ssl.create_default_context()) is True


def test_rsa_1024_is_accepted_under_a_private_root_only(lab: LabInfo) -> None:
    _handshake(lab, "rsa-1024", verified_context(Path(lab.ca_bundle)))
    public = verified_context(None)  # the public roots' level: 2048 bits
    public.load_verify_locations(cafile=lab.ca_bundle)
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        _handshake(lab, "rsa-1024", public)
    assert failure.value.verify_code == 66  # X509_V_ERR_EE_KEY_TOO_SMALL
