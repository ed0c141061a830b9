"""Revocation answers that must not be believed: a CRL or OCSP answer is used only when it is
what it claims (DER, the right issuer, a signature that verifies); otherwise it is unchecked."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from hsts_coverage.models import RevocationStatus
from hsts_coverage.probe.revocation import _crl, _ocsp_answer

NOW = dt.datetime.now(dt.UTC)


def _ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


ISSUER, ISSUER_KEY = _ca("issuer")
OTHER, OTHER_KEY = _ca("other")


def _crl_der(issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(NOW - dt.timedelta(hours=1))
        .next_update(NOW + dt.timedelta(days=1))
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_a_crl_is_used_only_from_its_issuer_with_a_valid_signature() -> None:
    assert isinstance(_crl(_crl_der(ISSUER, ISSUER_KEY), ISSUER), x509.CertificateRevocationList)
    assert _crl(_crl_der(OTHER, OTHER_KEY), ISSUER) == "issued by another CA than the certificate's"
    forged = x509.CertificateRevocationListBuilder().issuer_name(ISSUER.subject)
    forged = forged.last_update(NOW).next_update(NOW + dt.timedelta(days=1))
    der = forged.sign(OTHER_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    assert "signature does not verify" in str(_crl(der, ISSUER))
    assert _crl(b"not a crl", ISSUER) == "not a DER CRL"
    assert "not fetched" in str(_crl(None, ISSUER))


def _response(signer: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    leaf, _ = _ca("leaf")
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf,
        issuer=ISSUER,
        algorithm=hashes.SHA1(),
        cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=NOW,
        next_update=NOW + dt.timedelta(hours=1),
        revocation_time=None,
        revocation_reason=None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_an_ocsp_answer_is_used_only_when_the_issuer_signed_it() -> None:
    good = _ocsp_answer("http://ocsp.test/", _response(ISSUER, ISSUER_KEY), ISSUER)
    assert good.status is RevocationStatus.GOOD
    forged = _ocsp_answer("http://ocsp.test/", _response(OTHER, OTHER_KEY), ISSUER)
    assert (forged.status, "signature" in forged.detail) == (RevocationStatus.UNCHECKED, True)
    refused = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    der = refused.public_bytes(serialization.Encoding.DER)
    answer = _ocsp_answer("http://ocsp.test/", der, ISSUER)
    assert (answer.status, "unauthorized" in answer.detail) == (RevocationStatus.UNCHECKED, True)
    assert _ocsp_answer("http://ocsp.test/", b"junk", ISSUER).status is RevocationStatus.UNCHECKED
