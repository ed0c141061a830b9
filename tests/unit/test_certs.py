"""What a browser holds against a certificate, and in which order it says so."""

from __future__ import annotations

import ssl
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from hsts_coverage.models import Certificate, Finding
from hsts_coverage.reasons import Reason
from hsts_coverage.rules.certificates import certificate_findings, matches_host

NOW = datetime(2026, 11, 21, tzinfo=UTC)
GOOD = Certificate(
    subject="CN=www.example.com",
    sans=("example.com", "*.example.com"),
    issuer="CN=Some CA",
    not_before=NOW - timedelta(days=10),
    not_after=NOW + timedelta(days=80),
    serial="1",
    signature_algorithm="sha256",
    self_signed=False,
    key_type="EC",
    key_bits=256,
)


@pytest.mark.parametrize(
    ("sans", "host", "matches"),
    [
        (("example.com",), "example.com", True),
        (("EXAMPLE.com.",), "example.com", True),
        (("*.example.com",), "www.example.com", True),
        (("*.example.com",), "example.com", False),
        (("*.example.com",), "a.b.example.com", False),  # one level only
        (("*.com",), "example.com", False),  # no wildcard over a bare TLD
        (("www.example.com",), "api.example.com", False),
        ((), "example.com", False),  # CN-only certificates match nothing in browsers
        (("192.0.2.1",), "example.com", False),
    ],
)
def test_matches_host(sans: tuple[str, ...], host: str, matches: bool) -> None:
    assert matches_host(sans, host) is matches


def reasons(primary: Reason, cert: Certificate, host: str = "www.example.com") -> list[Reason]:
    return [f.reason for f in certificate_findings(Finding(primary), cert, host, NOW)]


def test_a_sound_leaf_adds_nothing() -> None:
    assert reasons(Reason.CERT_UNTRUSTED, GOOD) == [Reason.CERT_UNTRUSTED]


def test_expired_self_signed_is_both_authority_first() -> None:
    cert = replace(GOOD, self_signed=True, not_after=NOW - timedelta(days=1))
    assert reasons(Reason.CERT_SELF_SIGNED, cert) == [Reason.CERT_SELF_SIGNED, Reason.CERT_EXPIRED]


def test_chrome_priority_authority_name_signature_key_date() -> None:
    cert = replace(
        GOOD,
        sans=("other.test",),
        signature_algorithm="sha1",
        key_type="RSA",
        key_bits=768,
        not_before=NOW + timedelta(days=1),
    )
    assert reasons(Reason.CERT_NOT_YET_VALID, cert) == [
        Reason.CERT_NAME_MISMATCH,
        Reason.CERT_WEAK_SIGNATURE,
        Reason.CERT_WEAK_KEY,
        Reason.CERT_NOT_YET_VALID,
    ]


def test_self_signed_replaces_untrusted() -> None:
    assert reasons(Reason.CERT_UNTRUSTED, replace(GOOD, self_signed=True)) == [
        Reason.CERT_SELF_SIGNED
    ]


def test_the_leaf_facts_come_first_then_the_verify_detail() -> None:
    primary = Finding(Reason.CERT_EXPIRED, "certificate has expired (OpenSSL verify code 10)")
    expired = replace(GOOD, not_after=NOW - timedelta(days=3))
    assert certificate_findings(primary, expired, "www.example.com", NOW) == (
        Finding(
            Reason.CERT_EXPIRED,
            "expired 2026-11-18 00:00 UTC; certificate has expired (OpenSSL verify code 10)",
        ),
    )


@pytest.mark.parametrize("bits", [1024, 2048, 4096])
def test_rsa_1024_and_up_are_the_browsers_floor(bits: int) -> None:
    # Under 2048 bits is weak only from a public CA: the verifying context's level checks that.
    assert reasons(Reason.CERT_UNTRUSTED, replace(GOOD, key_type="RSA", key_bits=bits)) == [
        Reason.CERT_UNTRUSTED
    ]


@pytest.mark.parametrize("bits", [512, 768, 1023])
def test_rsa_under_1024_is_weak(bits: int) -> None:
    assert reasons(Reason.CERT_UNTRUSTED, replace(GOOD, key_type="RSA", key_bits=bits)) == [
        Reason.CERT_UNTRUSTED,
        Reason.CERT_WEAK_KEY,
    ]


@pytest.mark.parametrize("digest", ["md5", "MD5", "md2", "md4"])
def test_md5_is_invalid_before_everything_and_not_a_weak_signature(digest: str) -> None:
    cert = replace(GOOD, signature_algorithm=digest, sans=("other.test",), self_signed=True)
    assert reasons(Reason.CERT_WEAK_SIGNATURE, cert) == [
        Reason.CERT_INVALID,
        Reason.CERT_SELF_SIGNED,
        Reason.CERT_NAME_MISMATCH,
    ]


def test_a_ca_served_as_the_leaf_is_a_name_error_first() -> None:
    ca = replace(GOOD, sans=(), is_ca=True)
    primary = Finding(Reason.CERT_UNTRUSTED, "unsuitable certificate purpose")
    findings = certificate_findings(primary, ca, "www.example.com", NOW, verify_code=26)
    assert [f.reason for f in findings] == [Reason.CERT_NAME_MISMATCH]
    # A CA leaf that names the host keeps the purpose failure: nothing else explains it.
    naming = replace(ca, sans=("www.example.com",))
    findings = certificate_findings(primary, naming, "www.example.com", NOW, verify_code=26)
    assert [f.reason for f in findings] == [Reason.CERT_UNTRUSTED]
    # Not a CA: the purpose failure stays first.
    findings = certificate_findings(primary, GOOD, "api.test", NOW, verify_code=26)
    assert [f.reason for f in findings] == [Reason.CERT_UNTRUSTED, Reason.CERT_NAME_MISMATCH]


def test_failures_hidden_behind_a_weak_key_come_first() -> None:
    weak = replace(GOOD, key_type="RSA", key_bits=768)
    hidden = (Finding(Reason.CERT_UNTRUSTED, "unable to get local issuer certificate"),)
    findings = certificate_findings(
        Finding(Reason.CERT_WEAK_KEY), weak, "www.example.com", NOW, hidden
    )
    assert [f.reason for f in findings] == [Reason.CERT_UNTRUSTED, Reason.CERT_WEAK_KEY]


def test_verified_certificate_from_openssls_decoding() -> None:
    from hsts_coverage.probe.tls import verified_certificate

    info = {
        "subject": ((("organizationName", "Example, Inc."),), (("commonName", "www.example.com"),)),
        "issuer": ((("commonName", "Some CA"),),),
        "serialNumber": "0A1B",
        "notBefore": "Nov 20 18:51:52 2026 GMT",
        "notAfter": "Feb 19 18:51:52 2027 GMT",
        "subjectAltName": (("DNS", "www.example.com"), ("IP Address", "192.0.2.1"), ("URI", "x")),
        "caIssuers": ("http://ca.example/int.der",),
    }
    cert = verified_certificate(info)
    assert cert.subject == "CN=www.example.com,O=Example\\, Inc."
    assert cert.sans == ("www.example.com", "192.0.2.1")
    assert cert.issuer == "CN=Some CA"
    assert cert.serial == "a1b"
    assert cert.not_after == datetime(2027, 2, 19, 18, 51, 52, tzinfo=UTC)
    assert cert.ca_issuers == ("http://ca.example/int.der",)
    assert not cert.self_signed


class Peer:
    """What `VerifiedCertificates` asks of an SSLObject after a handshake, counted."""

    def __init__(self, der: bytes, serial: str, *, verified: bool = True) -> None:
        self.der, self.serial, self.verified, self.decoded = der, serial, verified, 0

    def getpeercert(self, binary_form: bool = False) -> Any:
        if binary_form:
            return self.der
        self.decoded += 1
        if not self.verified:
            return {}  # what ssl gives for an unverified chain
        return {
            "subject": ((("commonName", "*.example.com"),),),
            "issuer": ((("commonName", "Some CA"),),),
            "serialNumber": self.serial,
            "notBefore": "Nov 20 18:51:52 2026 GMT",
            "notAfter": "Feb 19 18:51:52 2027 GMT",
        }


def test_a_shared_certificate_is_decoded_once() -> None:
    from hsts_coverage.probe.tls import VerifiedCertificates

    certificates = VerifiedCertificates(capacity=2)
    hosts = [Peer(b"wildcard", "01") for _ in range(5)]
    facts = [certificates(cast(ssl.SSLObject, host)) for host in hosts]
    assert sum(host.decoded for host in hosts) == 1  # hundreds of names, one wildcard
    assert all(f is facts[0] for f in facts)
    assert facts[0] is not None
    assert facts[0].serial == "1"

    other = Peer(b"another", "02")
    assert certificates(cast(ssl.SSLObject, other)) != facts[0]  # keyed by the certificate
    assert other.decoded == 1


def test_the_oldest_certificate_makes_room_and_unverified_ones_are_not_kept() -> None:
    from hsts_coverage.probe.tls import VerifiedCertificates

    certificates = VerifiedCertificates(capacity=2)
    for der in (b"a", b"b", b"c"):  # "a" is dropped for "c"
        certificates(cast(ssl.SSLObject, Peer(der, "01")))
    again = Peer(b"a", "01")
    certificates(cast(ssl.SSLObject, again))
    assert again.decoded == 1
    kept = Peer(b"c", "01")
    certificates(cast(ssl.SSLObject, kept))
    assert kept.decoded == 0

    unverified = Peer(b"u", "01", verified=False)
    assert certificates(cast(ssl.SSLObject, unverified)) is None
    assert certificates(cast(ssl.SSLObject, unverified)) is None
    assert unverified.decoded == 2  # nothing was cached for it


# -- certificates OpenSSL accepts and cryptography refuses -----------------------------------


def _tlv(data: bytes, i: int = 0) -> tuple[int, bytes, int]:
    tag, length, i = data[i], data[i + 1], i + 2
    if length & 0x80:
        size = length & 0x7F
        length, i = int.from_bytes(data[i : i + size], "big"), i + size
    return tag, data[i : i + length], i + length


def _children(body: bytes) -> list[tuple[int, bytes]]:
    out, i = [], 0
    while i < len(body):
        tag, value, i = _tlv(body, i)
        out.append((tag, value))
    return out


def _enc(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _hostile_der(kind: str) -> bytes:
    """A self-signed certificate re-encoded the way DER forbids and OpenSSL still reads."""
    import trustme

    leaf = trustme.CA().issue_cert("a.example.com")
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    tag, body, _ = _tlv(der)
    (tbs_tag, tbs), algorithm, signature = _children(body)
    parts = _children(tbs)
    if kind == "critical FALSE":  # the DEFAULT value encoded explicitly, in every extension
        ext_tag, ext_body = parts[-1]
        ((seq_tag, seq_body),) = _children(ext_body)
        extensions = b""
        for one_tag, one in _children(seq_body):
            fields = _children(one)
            if fields[1][0] != 0x01:  # not critical yet: say FALSE explicitly
                fields.insert(1, (0x01, b"\x00"))
            extensions += _enc(one_tag, b"".join(_enc(*f) for f in fields))
        parts[-1] = (ext_tag, _enc(seq_tag, extensions))
    else:  # UTCTime without seconds: YYMMDDHHMMZ
        validity = [(t, v[:10] + b"Z" if t == 0x17 else v) for t, v in _children(parts[4][1])]
        parts[4] = (parts[4][0], b"".join(_enc(*v) for v in validity))
    new_tbs = _enc(tbs_tag, b"".join(_enc(*p) for p in parts))
    return _enc(tag, new_tbs + _enc(*algorithm) + _enc(*signature))


class _PeerDer:
    def __init__(self, der: bytes) -> None:
        self.der = der

    def getpeercert(self, binary_form: bool = False) -> bytes:
        return self.der


@pytest.mark.parametrize("kind", ["critical FALSE", "UTCTime without seconds"])
def test_a_certificate_cryptography_refuses_is_read_as_none(kind: str) -> None:
    from hsts_coverage.probe.tls import peer_certificate

    der = _hostile_der(kind)
    ssl.create_default_context().load_verify_locations(cadata=der)  # OpenSSL reads it
    assert peer_certificate(cast(ssl.SSLObject, _PeerDer(der))) is None


def test_its_twin_is_read() -> None:
    import trustme

    from hsts_coverage.probe.tls import peer_certificate

    pem = trustme.CA().issue_cert("a.example.com").cert_chain_pems[0].bytes().decode()
    cert = peer_certificate(cast(ssl.SSLObject, _PeerDer(ssl.PEM_cert_to_DER_cert(pem))))
    assert cert is not None
    assert cert.sans == ("a.example.com",)
