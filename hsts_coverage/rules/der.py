"""The one certificate decoder: DER -> `Certificate`, with cryptography.

Verified peers (through `probe.tls.VerifiedCertificates`, which decodes each distinct DER once),
certificates that failed verification, and issuers fetched from AIA URLs all come through here,
so one certificate has one subject string wherever it is met. cryptography (9 MiB, 25 ms to
import) loads on the first certificate.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID

from hsts_coverage.models import Certificate


def parse_certificate(der: bytes) -> Certificate:
    cert = x509.load_der_x509_certificate(der)
    key_type, key_bits = _key(cert)
    return Certificate(
        subject=cert.subject.rfc4514_string(),
        sans=_sans(cert),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=format(cert.serial_number, "x"),
        signature_algorithm=_signature_algorithm(cert),
        self_signed=cert.issuer == cert.subject,
        key_type=key_type,
        key_bits=key_bits,
        ca_issuers=_access(cert, AuthorityInformationAccessOID.CA_ISSUERS),
        crl_urls=_crl_urls(cert),
        ocsp_urls=_access(cert, AuthorityInformationAccessOID.OCSP),
        is_ca=_is_ca(cert),
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        return False


def issuer_der(data: bytes) -> bytes:
    """An issuer certificate as fetched from an AIA URL (DER, or PEM from some servers), as DER."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    x509.load_der_x509_certificate(data)  # raises ValueError for anything else (e.g. PKCS#7)
    return data


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):
        return ()
    names = ext.value.get_values_for_type(x509.DNSName)
    addresses = [str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)]
    return (*names, *addresses)


def _signature_algorithm(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return algorithm.name if algorithm else None


def _key(cert: x509.Certificate) -> tuple[str, int]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return type(key).__name__.removesuffix("PublicKey"), 0
    return type(key).__name__, 0


def _access(cert: x509.Certificate, method: x509.ObjectIdentifier) -> tuple[str, ...]:
    """The URIs of one access method of the Authority Information Access extension."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(
        d.access_location.value
        for d in aia.value
        if d.access_method == method
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )


def _crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The full-name URIs of the CRL distribution points (what OpenSSL's decoding listed too)."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(
        name.value
        for point in points.value
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier)
    )
