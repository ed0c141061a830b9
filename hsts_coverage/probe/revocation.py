"""Revocation of a verified leaf, as Firefox learns it: its CA's CRL and its OCSP responder.

Firefox refuses a revoked certificate (SEC_ERROR_REVOKED_CERTIFICATE: CRLite carries every
public CA's revocations, and OCSP answers where it asks). Chrome checks no CRL or OCSP online: it
refuses a revoked certificate only when its CRLSet lists it, and a CRLSet holds a small part of
all revocations (Google picks them, mostly key compromise); the scanner cannot read the CRLSet,
so the record says how likely it is from the revocation's reason, no more.

`Checker.check(cert)` reads, for a certificate whose verified chain was kept (`chain_der`: leaf
and issuer):
- the first CRL distribution point over HTTP: fetched once per URL per scan and shared by every
  host that names it (concurrent hosts wait for the one fetch), at most `MAX_CRL` bytes, its
  signature checked against the issuer's key;
- else, or when the CRL cannot be read, the first OCSP responder, asked with the RFC 6960
  appendix A.1 GET form (a request built by cryptography's OCSP builder, SHA-1 CertID as
  responders expect), its answer's signature checked (the issuer itself, or a responder
  certificate the issuer signed).
Requests go through the prober's own HTTP client: the same address guard, deadlines and limits
as every other request. An unreachable or unusable CRL or responder is `UNCHECKED`, a warning,
never a break: browsers go on in that case.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from hsts_coverage.models import Certificate, Revocation, RevocationStatus

MAX_CRL = 8 * 1024 * 1024  # the largest public CRLs are a few MiB
MAX_OCSP = 64 * 1024

# (url, body cap) -> the body of a 200 answer, or None (any failure)
Fetch = Callable[[str, int], Awaitable[bytes | None]]


class Checker:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._crls: dict[str, asyncio.Future[x509.CertificateRevocationList | str]] = {}

    async def check(self, cert: Certificate) -> Revocation | None:
        if len(cert.chain_der) < 2 or not (cert.crl_urls or cert.ocsp_urls):
            return None
        leaf = x509.load_der_x509_certificate(cert.chain_der[0])
        issuer = x509.load_der_x509_certificate(cert.chain_der[1])
        problems: list[str] = []
        http_crls = [url for url in cert.crl_urls if url.startswith("http://")]
        if http_crls:
            answer = await self._by_crl(http_crls[0], leaf, issuer)
            if answer.status is not RevocationStatus.UNCHECKED:
                return answer
            problems.append(answer.detail)
        if cert.ocsp_urls:
            answer = await self._by_ocsp(cert.ocsp_urls[0], leaf, issuer)
            if answer.status is not RevocationStatus.UNCHECKED:
                return answer
            problems.append(answer.detail)
        detail = "; ".join(problems) or "no CRL over HTTP and no OCSP responder"
        return Revocation(RevocationStatus.UNCHECKED, "", "", detail)

    async def _by_crl(
        self, url: str, leaf: x509.Certificate, issuer: x509.Certificate
    ) -> Revocation:
        crl = await self._crl(url, issuer)
        if isinstance(crl, str):
            return Revocation(RevocationStatus.UNCHECKED, "crl", url, f"CRL {url}: {crl}")
        entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
        if entry is None:
            return Revocation(RevocationStatus.GOOD, "crl", url)
        reason = _entry_reason(entry)
        when = f"{entry.revocation_date_utc:%Y-%m-%d}"
        detail = f"listed in {url} since {when}" + (f" ({reason})" if reason else "")
        return Revocation(RevocationStatus.REVOKED, "crl", url, detail, reason)

    async def _crl(
        self, url: str, issuer: x509.Certificate
    ) -> x509.CertificateRevocationList | str:
        """The CRL at `url`, fetched once per scan, or why it cannot be used."""
        if url not in self._crls:
            future: asyncio.Future[x509.CertificateRevocationList | str]
            future = asyncio.get_running_loop().create_future()
            self._crls[url] = future
            future.set_result(_crl(await self._fetch(url, MAX_CRL), issuer))
        return await asyncio.shield(self._crls[url])

    async def _by_ocsp(
        self, url: str, leaf: x509.Certificate, issuer: x509.Certificate
    ) -> Revocation:
        request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
        encoded = base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode()
        body = await self._fetch(f"{url.rstrip('/')}/{quote(encoded, safe='')}", MAX_OCSP)
        if body is None:
            return Revocation(RevocationStatus.UNCHECKED, "ocsp", url, f"OCSP {url}: no answer")
        return _ocsp_answer(url, body, issuer)


def _crl(body: bytes | None, issuer: x509.Certificate) -> x509.CertificateRevocationList | str:
    if body is None:
        return "not fetched (unreachable, not 200, or too large)"
    try:
        crl = x509.load_der_x509_crl(body)
    except ValueError:
        return "not a DER CRL"
    if crl.issuer != issuer.subject:
        return "issued by another CA than the certificate's"
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, UnsupportedAlgorithm):
        valid = False
    return crl if valid else "its signature does not verify with the issuer's key"


def _ocsp_answer(url: str, body: bytes, issuer: x509.Certificate) -> Revocation:
    def unchecked(why: str) -> Revocation:
        return Revocation(RevocationStatus.UNCHECKED, "ocsp", url, f"OCSP {url}: {why}")

    try:
        response = ocsp.load_der_ocsp_response(body)
    except ValueError:
        return unchecked("not an OCSP response")
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return unchecked(f"responder says {response.response_status.name.lower()}")
    if not _signed_for(response, issuer):
        return unchecked("the answer's signature does not verify")
    status = response.certificate_status
    if status is ocsp.OCSPCertStatus.GOOD:
        return Revocation(RevocationStatus.GOOD, "ocsp", url)
    if status is ocsp.OCSPCertStatus.UNKNOWN:
        return unchecked("the responder does not know the certificate")
    reason = response.revocation_reason.name if response.revocation_reason else None
    when = response.revocation_time_utc
    detail = f"revoked per {url}" + (f" since {when:%Y-%m-%d}" if when else "")
    detail += f" ({reason})" if reason else ""
    return Revocation(RevocationStatus.REVOKED, "ocsp", url, detail, reason)


def _signed_for(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    """Signed by the issuer, or by a responder certificate the issuer signed (RFC 6960 4.2.2.2)."""
    signer = issuer
    for candidate in response.certificates:
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        signer = candidate
        break
    return _verifies(signer, response.signature, response.tbs_response_bytes, response)


def _verifies(
    signer: x509.Certificate, signature: bytes, data: bytes, response: ocsp.OCSPResponse
) -> bool:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    if algorithm is None:
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _entry_reason(entry: x509.RevokedCertificate) -> str | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        return None
