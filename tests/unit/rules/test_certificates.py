"""What a browser holds against a certificate, and in which order it says so."""

from __future__ import annotations

import ssl
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
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


@cache
def _issued(name: str) -> bytes:
    """A real certificate's DER (trustme), one per name."""
    import trustme

    pem = trustme.CA().issue_cert(name).cert_chain_pems[0].bytes().decode()
    return ssl.PEM_cert_to_DER_cert(pem)


def test_a_verified_and_a_failing_peer_give_one_certificate_the_same_facts() -> None:
    """One decoder: the same DER, verified or not, has one subject string and one set of facts
    (OpenSSL's own decoding, used for verified peers before, wrote some of them differently)."""
    from hsts_coverage.probe.tls import VerifiedCertificates, peer_certificate

    der = _issued("www.example.com")
    verified = VerifiedCertificates()(cast(ssl.SSLObject, Peer(der)))
    failing = peer_certificate(cast(ssl.SSLObject, _PeerDer(der)))
    assert verified is not None
    assert verified == failing
    assert verified.subject.startswith("OU=Testing cert #")
    assert verified.key_type == "EC"
    assert verified.sans == ("www.example.com",)


def test_issuer_der_reads_pem_and_der_alike() -> None:
    from hsts_coverage.rules.der import issuer_der

    der = _issued("ca.example.com")
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    assert issuer_der(pem) == issuer_der(der) == der
    with pytest.raises(ValueError, match=r"\w"):  # neither PEM nor DER (e.g. PKCS#7)
        issuer_der(b"not a certificate")


class Peer:
    """What `VerifiedCertificates` asks of an SSLObject after a handshake, counted."""

    def __init__(self, der: bytes, *, verified: bool = True) -> None:
        self.der, self.verified, self.decoded = der, verified, 0

    def getpeercert(self, binary_form: bool = False) -> Any:
        if binary_form:
            return self.der
        self.decoded += 1
        # ssl's dict is empty for an unverified chain; its content is not read.
        return {"subject": ()} if self.verified else {}


def test_a_shared_certificate_is_decoded_once() -> None:
    from hsts_coverage.probe.tls import VerifiedCertificates

    certificates = VerifiedCertificates(capacity=2)
    hosts = [Peer(_issued("*.example.com")) for _ in range(5)]
    facts = [certificates(cast(ssl.SSLObject, host)) for host in hosts]
    assert sum(host.decoded for host in hosts) == 1  # hundreds of names, one wildcard
    assert all(f is facts[0] for f in facts)
    assert facts[0] is not None
    assert facts[0].sans == ("*.example.com",)

    other = Peer(_issued("other.example.com"))
    assert certificates(cast(ssl.SSLObject, other)) != facts[0]  # keyed by the certificate
    assert other.decoded == 1


def test_the_oldest_certificate_makes_room_and_unverified_ones_are_not_kept() -> None:
    from hsts_coverage.probe.tls import VerifiedCertificates

    certificates = VerifiedCertificates(capacity=2)
    for name in ("a.example", "b.example", "c.example"):  # "a" is dropped for "c"
        certificates(cast(ssl.SSLObject, Peer(_issued(name))))
    again = Peer(_issued("a.example"))
    certificates(cast(ssl.SSLObject, again))
    assert again.decoded == 1
    kept = Peer(_issued("c.example"))
    certificates(cast(ssl.SSLObject, kept))
    assert kept.decoded == 0

    unverified = Peer(_issued("u.example"), verified=False)
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
