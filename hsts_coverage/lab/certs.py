"""The lab's certificates: one lab CA, and one server certificate per `CertKey` a listener needs.

`generate(state_dir, keys, aia_base)` writes, fresh on every call (validity is relative to now):

- `STATE_DIR/ca.pem`: the lab CA, the only thing the scanner is told to trust (`--ca-bundle`);
- `STATE_DIR/certs/<domain>/<kind>.pem` and `.key` (CN_ONLY: `cn_only-<host>.pem`): the chain a
  listener presents and its private key (the scale fleet's one VALID certificate is
  `certs/fleet.test/valid.pem`, like any other domain's);
- `STATE_DIR/certs/lab-intermediate.der`: the lab intermediate CA, also served by the CT server
  at `AIA_INTERMEDIATE_PATH` for the INCOMPLETE_CHAIN leaf's AIA caIssuers URL.

A `CertKey` is a kind issued for a domain (SANs: the domain and *.domain), so every host of a
domain shares one certificate per kind; only CN_ONLY, whose one name is in the subject CN, is
issued per host. HOSTILE_SUBJECT names no host at all: its only name is `HOSTILE_CN`, in the
subject CN, a string of terminal escape sequences and control characters.

Against a client context built from `ca.pem` (host name checks on, CN ignored, SECLEVEL=2) the
kinds fail with these OpenSSL verify codes: NOT_YET_VALID 9, EXPIRED 10; SELF_SIGNED 18, and
EXPIRED_SELF_SIGNED 18 too (OpenSSL reports the missing trust before the dates); UNKNOWN_CA 20,
INCOMPLETE_CHAIN 20, INCOMPLETE_CHAIN_CHUNKED_AIA 20 and INCOMPLETE_CHAIN_DEAD_AIA 20 (only
the leaf is sent; the dead-AIA leaf has an issuer of its own, published nowhere); WRONG_NAME 62,
CN_ONLY 62, HOSTILE_SUBJECT 62; RSA_768 66
(EE_KEY_TOO_SMALL); SHA1 68, SHA1_INTERMEDIATE 68, MD5 68 (CA_MD_TOO_WEAK); CA_AS_LEAF 26
(INVALID_PURPOSE: a CA's keyUsage does not allow a TLS server). RSA and RSA_1024 verify at
security level 1, the scanner's level for a private root (RSA_1024 fails at level 2). VALID and
EXPIRING_SOON verify for the domain and any single label under it (and give 62 two labels down:
a wildcard covers one label); INCOMPLETE_CHAIN verifies once the lab intermediate is trusted too.
Every key is ECDSA P-256 (quick to generate at each start) except RSA's RSA-2048, RSA_1024's
and RSA_768's (the openssl CLI makes it: cryptography refuses keys under 1024 bits), and the MD5
leaf's RSA issuer.

Two more roots, in `ca.pem` too, are retired: `STATE_DIR/distrust.json` (for `--distrust-file`)
says Chrome distrusts the first's leaves issued after 20 days ago and Firefox after 10 days ago,
and the second the other way round. ISSUED_BEFORE_DISTRUST (30 days ago), DISTRUSTED_CHROME
(15 days ago), DISTRUSTED (1 day ago) come from the first, DISTRUSTED_FIREFOX (15 days ago) from
the second; all of them verify.

Revocation: REVOKED_CRL and GOOD_CRL name the lab CRL (`CRL_PATH` on the CT server), which lists
REVOKED_CRL and REVOKED_OCSP (reason keyCompromise); REVOKED_OCSP and GOOD_OCSP name the lab OCSP
responder, `openssl ocsp` over `STATE_DIR/ocsp/index.txt`; DEAD_REVOCATION names a CRL URL that
is a 404 and an OCSP URL where nothing listens. All of them verify.

`STATE_DIR/certs/dh.pem` holds the RFC 7919 ffdhe2048 group, for the DHE-only listener.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from hsts_coverage.lab.scenarios import Cert

_ORGANIZATION = "HSTS Lab"
_LIFETIME = dt.timedelta(days=90)
_DAY = dt.timedelta(days=1)

AIA_INTERMEDIATE_PATH = "/aia/lab-intermediate.der"
AIA_MISSING_PATH = "/aia/missing.der"  # nothing is served there: a dead AIA URL
AIA_CHUNKED_PATH = "/aia/chunked/lab-intermediate.der"  # the intermediate, chunked
CRL_PATH = "/crl/lab.crl"  # the lab CA's CRL (DER), served by the CT server
CRL_MISSING_PATH = "/crl/missing.crl"  # a 404
DEAD_OCSP_URL = "http://127.0.0.1:9/"  # the discard port: nothing listens

# The HOSTILE_SUBJECT certificate's subject CN, exactly as the scenario table describes it: set
# the window title, clear the screen, colour the text, then CR LF. Stored as a UTF8String.
HOSTILE_CN = "\x1b]0;pwned\x07\x1b[2J\x1b[31mevil\x1b[0m\r\n"

# Kinds a server context can only load at OpenSSL security level 0 (SHA-1 signatures, RSA-1024).
_LOW_SECURITY = frozenset(
    {Cert.SHA1, Cert.SHA1_INTERMEDIATE, Cert.RSA_1024, Cert.RSA_768, Cert.MD5}
)

LeafKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class CertKey:
    """One certificate to make: `kind` for `domain` and *.domain, or for `host` alone (CN_ONLY)."""

    kind: Cert
    domain: str
    host: str = ""

    @classmethod
    def for_host(cls, kind: Cert, domain: str, host: str) -> CertKey:
        # Every kind but CN_ONLY names the whole domain, so its hosts share one certificate.
        return cls(kind, domain, host if kind is Cert.CN_ONLY else "")

    def file_stem(self) -> str:
        return f"{self.kind.value}-{self.host}" if self.host else self.kind.value


@dataclass(frozen=True, slots=True)
class KeyPair:
    """Where a listener's certificate chain and private key are (PEM files)."""

    cert: Path
    key: Path
    # OpenSSL 3 refuses to even load a SHA-1-signed certificate or an RSA-1024 key above
    # security level 0.
    low_security: bool = False
    dh_params: Path | None = None  # for a DHE listener


@dataclass(frozen=True, slots=True)
class LabCertificates:
    ca_bundle: Path
    pairs: dict[CertKey, KeyPair]
    intermediate_der: bytes  # the lab intermediate, for the AIA URL
    distrust_file: Path  # the retired roots' distrust-after rows (--distrust-file)
    crl_der: bytes  # the lab CA's CRL, listing the REVOKED_CRL and REVOKED_OCSP leaves
    ocsp_dir: Path  # index.txt, ca.pem and ca.key for `openssl ocsp`


def generate(
    state_dir: Path, keys: Iterable[CertKey], aia_base: str, ocsp_url: str = DEAD_OCSP_URL
) -> LabCertificates:
    """Create the lab CA and one certificate per distinct key under `state_dir`.

    `aia_base` ("http://host") is where the INCOMPLETE_CHAIN leaves say their issuer is, and
    the revocation leaves their CRL; `ocsp_url` is where the OCSP leaves say their responder is.
    """
    cert_dir = state_dir / "certs"
    cert_dir.mkdir(parents=True, exist_ok=True)
    factory = _Factory(aia_base, ocsp_url)
    ca_bundle = (state_dir / "ca.pem").resolve()
    retired = (factory.retired.cert_pem.bytes(), factory.retired_2.cert_pem.bytes())
    ca_bundle.write_bytes(factory.ca.cert_pem.bytes() + b"".join(retired))
    distrust_file = (state_dir / "distrust.json").resolve()
    distrust_file.write_text(json.dumps(factory.distrust_rows(), indent=2) + "\n")
    intermediate_der = factory.intermediate.cert.public_bytes(serialization.Encoding.DER)
    (cert_dir / "lab-intermediate.der").write_bytes(intermediate_der)
    dh_params = _dh_params(cert_dir / "dh.pem")
    pairs = {
        key: _write_pair(cert_dir, key, *factory.make(key), dh_params=dh_params)
        for key in dict.fromkeys(keys)
    }
    crl_der, ocsp_dir = factory.crl(), state_dir / "ocsp"
    factory.write_ocsp(ocsp_dir)
    return LabCertificates(ca_bundle, pairs, intermediate_der, distrust_file, crl_der, ocsp_dir)


@dataclass(frozen=True, slots=True)
class _Issuer:
    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes

    @classmethod
    def of(cls, ca: trustme.CA) -> _Issuer:
        key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise TypeError(f"unexpected CA key type {type(key).__name__}")
        return cls(x509.load_pem_x509_certificate(ca.cert_pem.bytes()), key)

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


class _Factory:
    """The lab's issuers, made once per `generate`, and the recipe for each kind."""

    def __init__(self, aia_base: str, ocsp_url: str = DEAD_OCSP_URL) -> None:
        self.aia_base = aia_base.rstrip("/")
        self.ocsp_url = ocsp_url
        self.revoked: list[x509.Certificate] = []  # listed by the CRL and the OCSP index
        self.good: list[x509.Certificate] = []  # in the OCSP index as valid
        self.ca = trustme.CA(organization_name=_ORGANIZATION)
        self.root = _Issuer.of(self.ca)

    @cached_property
    def intermediate(self) -> _Issuer:
        """The lab intermediate (SHA-256), never sent by a server: only its AIA URL serves it."""
        return self._child("HSTS Lab Intermediate")

    @cached_property
    def unpublished_intermediate(self) -> _Issuer:
        """The issuer of the dead-AIA leaf, published nowhere.

        Not the lab intermediate: a client that keeps intermediates it fetched for other hosts
        (as Firefox does) must still find no issuer for the dead-AIA leaf.
        """
        return self._child("HSTS Lab Unpublished Intermediate")

    @cached_property
    def sha1_intermediate(self) -> _Issuer:
        """An intermediate the lab CA signed with SHA-1."""
        key = ec.generate_private_key(ec.SECP256R1())
        extensions = [
            "basicConstraints = critical, CA:TRUE, pathlen:0",
            "keyUsage = critical, digitalSignature, keyCertSign, cRLSign",
            "subjectKeyIdentifier = hash",
            "authorityKeyIdentifier = keyid",
        ]
        pem = _openssl_sign(self.ca, _csr(key, "HSTS Lab SHA-1 Intermediate"), extensions)
        return _Issuer(x509.load_pem_x509_certificate(pem), key)

    def _revocable(self, names: tuple[str, ...], kind: Cert) -> tuple[bytes, bytes]:
        crl = {
            Cert.REVOKED_CRL: CRL_PATH,
            Cert.GOOD_CRL: CRL_PATH,
            Cert.DEAD_REVOCATION: CRL_MISSING_PATH,
        }.get(kind)
        ocsp = {Cert.REVOKED_OCSP: self.ocsp_url, Cert.GOOD_OCSP: self.ocsp_url}.get(kind)
        if kind is Cert.DEAD_REVOCATION:
            ocsp = DEAD_OCSP_URL
        key = ec.generate_private_key(ec.SECP256R1())
        crl_url = self.aia_base + crl if crl else ""
        cert_pem, key_pem = _pems(self.root, key, names=names, crl=crl_url, ocsp=ocsp or "")
        cert = x509.load_pem_x509_certificate(cert_pem)
        revoked = kind in (Cert.REVOKED_CRL, Cert.REVOKED_OCSP)
        (self.revoked if revoked else self.good).append(cert)
        return cert_pem, key_pem

    def crl(self) -> bytes:
        """The lab CA's CRL (DER): every revoked leaf, reason keyCompromise."""
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root.cert.subject)
            .last_update(now - _DAY)
            .next_update(now + 7 * _DAY)
        )
        for cert in self.revoked:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - _DAY)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(self.root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def write_ocsp(self, directory: Path) -> None:
        """`openssl ocsp`'s CA database (index.txt) for the lab CA, with its certificate and key."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_bytes(self.ca.cert_pem.bytes())
        (directory / "ca.key").touch(mode=0o600)
        (directory / "ca.key").write_bytes(self.ca.private_key_pem.bytes())
        lines = [_index_line(c, revoked=True) for c in self.revoked]
        lines += [_index_line(c, revoked=False) for c in self.good]
        (directory / "index.txt").write_text("".join(lines))
        (directory / "index.txt.attr").write_text("unique_subject = no\n")  # leaves share one

    @cached_property
    def retired(self) -> trustme.CA:
        """A trusted root that Chrome distrusts for leaves issued after 20 days ago, Firefox
        for those after 10 days ago (`distrust_rows`)."""
        return trustme.CA(organization_name=_ORGANIZATION, organization_unit_name="Retired")

    @cached_property
    def retired_2(self) -> trustme.CA:
        """The same with the browsers' dates swapped: Firefox distrusts first."""
        return trustme.CA(organization_name=_ORGANIZATION, organization_unit_name="Retired 2")

    def distrust_rows(self) -> list[dict[str, str]]:
        now = dt.datetime.now(dt.UTC)
        early, late = (now - 20 * _DAY).isoformat(), (now - 10 * _DAY).isoformat()
        rows = []
        for ca, chrome, firefox in ((self.retired, early, late), (self.retired_2, late, early)):
            cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
            rows.append(
                {
                    "root": cert.subject.rfc4514_string(),
                    "sha256": cert.fingerprint(hashes.SHA256()).hex(),
                    "chrome_after": chrome,
                    "firefox_after": firefox,
                    "source": "the lab",
                }
            )
        return rows

    @cached_property
    def rsa_intermediate(self) -> trustme.CA:
        """An RSA intermediate (SHA-256, from the lab CA), to sign the MD5 leaf: MD5 needs RSA."""
        return trustme.CA(
            parent_cert=self.ca,
            path_length=0,
            organization_name=_ORGANIZATION,
            organization_unit_name="HSTS Lab RSA Intermediate",
            key_type=trustme.KeyType.RSA,
        )

    def _md5_leaf(self, names: tuple[str, ...]) -> tuple[bytes, bytes]:
        issuer = self.rsa_intermediate
        key = ec.generate_private_key(ec.SECP256R1())
        extensions = [
            "basicConstraints = critical, CA:FALSE",
            "extendedKeyUsage = serverAuth",
            "subjectAltName = " + ", ".join(f"DNS:{name}" for name in names),
        ]
        leaf = _openssl_sign(issuer, _csr(key, names[0]), extensions, digest="md5")
        return leaf + issuer.cert_pem.bytes(), _key_pem(key)

    def _ca_as_leaf(self) -> tuple[bytes, bytes]:
        """A CA certificate from the lab CA, as a CA is issued: no SAN, no serverAuth use."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        usage = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(_subject("HSTS Lab Sub CA"))
            .issuer_name(self.root.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + _LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(_key_identifier(self.root), critical=False)
            .sign(self.root.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    def make(self, key: CertKey) -> tuple[bytes, bytes]:
        """(certificate chain PEM, private key PEM) for one key."""
        names = (key.domain, f"*.{key.domain}")
        now = dt.datetime.now(dt.UTC)
        match key.kind:
            case Cert.VALID:
                return _trustme_leaf(self.ca, names)
            case Cert.EXPIRED:
                return _trustme_leaf(self.ca, names, now - 30 * _DAY, now - _DAY)
            case Cert.NOT_YET_VALID:
                return _trustme_leaf(self.ca, names, now + 10 * _DAY, now + 100 * _DAY)
            case Cert.EXPIRING_SOON:
                return _trustme_leaf(self.ca, names, now - 30 * _DAY, now + 3 * _DAY)
            case Cert.WRONG_NAME:
                return _trustme_leaf(self.ca, ("other-site.test",))
            case Cert.UNKNOWN_CA:
                # A second CA, deliberately never written to ca.pem.
                return _trustme_leaf(trustme.CA(organization_name=f"{_ORGANIZATION} Rogue"), names)
            case Cert.SELF_SIGNED:
                return _self_signed(names, now - _DAY, now + _LIFETIME)
            case Cert.EXPIRED_SELF_SIGNED:
                return _self_signed(names, now - 30 * _DAY, now - _DAY)
            case Cert.SHA1:
                return _sha1_leaf(self.ca, names)
            case Cert.INCOMPLETE_CHAIN:
                return self._aia_leaf(self.intermediate, names, AIA_INTERMEDIATE_PATH)
            case Cert.INCOMPLETE_CHAIN_CHUNKED_AIA:
                return self._aia_leaf(self.intermediate, names, AIA_CHUNKED_PATH)
            case Cert.INCOMPLETE_CHAIN_DEAD_AIA:
                return self._aia_leaf(self.unpublished_intermediate, names, AIA_MISSING_PATH)
            case Cert.CN_ONLY:
                return _pems(self.root, ec.generate_private_key(ec.SECP256R1()), cn=key.host)
            case Cert.HOSTILE_SUBJECT:
                return _pems(self.root, ec.generate_private_key(ec.SECP256R1()), cn=HOSTILE_CN)
            case (
                Cert.REVOKED_CRL
                | Cert.GOOD_CRL
                | Cert.REVOKED_OCSP
                | Cert.GOOD_OCSP
                | Cert.DEAD_REVOCATION
            ):
                return self._revocable(names, key.kind)
            case Cert.ISSUED_BEFORE_DISTRUST:
                return _trustme_leaf(self.retired, names, now - 30 * _DAY, now + _LIFETIME)
            case Cert.DISTRUSTED_CHROME:
                return _trustme_leaf(self.retired, names, now - 15 * _DAY, now + _LIFETIME)
            case Cert.DISTRUSTED:
                return _trustme_leaf(self.retired, names, now - _DAY, now + _LIFETIME)
            case Cert.DISTRUSTED_FIREFOX:
                return _trustme_leaf(self.retired_2, names, now - 15 * _DAY, now + _LIFETIME)
            case Cert.RSA:
                return _trustme_leaf(self.ca, names, key_type=trustme.KeyType.RSA)
            case Cert.RSA_1024:
                small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
                return _pems(self.root, small, names=names)
            case Cert.RSA_768:
                return _pems(self.root, _openssl_rsa_key(768), names=names)
            case Cert.MD5:
                return self._md5_leaf(names)
            case Cert.CA_AS_LEAF:
                return self._ca_as_leaf()
            case Cert.SHA1_INTERMEDIATE:
                leaf_key = ec.generate_private_key(ec.SECP256R1())
                leaf, key_pem = _pems(self.sha1_intermediate, leaf_key, names=names)
                # The server sends the intermediate after the leaf: the chain is complete.
                return leaf + self.sha1_intermediate.pem(), key_pem

    def _aia_leaf(self, issuer: _Issuer, names: tuple[str, ...], path: str) -> tuple[bytes, bytes]:
        # Only the leaf is written, so only the leaf is sent: the client must find the
        # intermediate itself, as browsers do through the AIA caIssuers URL.
        key = ec.generate_private_key(ec.SECP256R1())
        return _pems(issuer, key, names=names, aia=self.aia_base + path)

    def _child(self, unit: str) -> _Issuer:
        child = trustme.CA(
            parent_cert=self.ca,
            path_length=0,
            organization_name=_ORGANIZATION,
            organization_unit_name=unit,
        )
        return _Issuer.of(child)


def _trustme_leaf(
    ca: trustme.CA,
    names: tuple[str, ...],
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_type: trustme.KeyType = trustme.KeyType.ECDSA,
) -> tuple[bytes, bytes]:
    # A realistic window by default (trustme's own spans 2000-3000), so "days left" looks real.
    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_cert(
        *names,
        organization_name=_ORGANIZATION,
        not_before=not_before or now - _DAY,
        not_after=not_after or now + _LIFETIME,
        key_type=key_type,
    )
    # Only the leaf: the issuer is a root, and a client either has it or must fail to find it.
    return leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes()


def _pems(
    issuer: _Issuer,
    key: LeafKey,
    *,
    names: tuple[str, ...] = (),
    cn: str = "",
    aia: str = "",
    crl: str = "",
    ocsp: str = "",
) -> tuple[bytes, bytes]:
    """A SHA-256 leaf from `issuer`: SANs `names` (none if empty), subject CN `cn` if given, an
    AIA caIssuers URL if given; (leaf PEM, key PEM)."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(cn))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + _LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_identifier(issuer), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if names:
        builder = builder.add_extension(_san(names), critical=False)
    if aia:
        builder = builder.add_extension(_ca_issuers(aia), critical=False)
    if crl:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if ocsp:
        location = x509.UniformResourceIdentifier(ocsp)
        access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, location)
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    cert = builder.sign(issuer.key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _subject(cn: str) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION)]
    if cn:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


def _key_identifier(issuer: _Issuer) -> x509.AuthorityKeyIdentifier:
    # Lets a client that was handed the intermediate separately match it to the leaf.
    ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _ca_issuers(url: str) -> x509.AuthorityInformationAccess:
    location = x509.UniformResourceIdentifier(url)
    return x509.AuthorityInformationAccess(
        [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, location)]
    )


def _self_signed(
    names: tuple[str, ...], not_before: dt.datetime, not_after: dt.datetime
) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _subject(names[0])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _sha1_leaf(ca: trustme.CA, names: tuple[str, ...]) -> tuple[bytes, bytes]:
    """A lab-CA leaf signed with ecdsa-with-SHA1."""
    key = ec.generate_private_key(ec.SECP256R1())
    extensions = [
        "basicConstraints = critical, CA:FALSE",
        "extendedKeyUsage = serverAuth",
        "subjectAltName = " + ", ".join(f"DNS:{name}" for name in names),
    ]
    return _openssl_sign(ca, _csr(key, names[0]), extensions), _key_pem(key)


def _csr(key: ec.EllipticCurvePrivateKey, cn: str) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_subject(cn))
        .sign(key, hashes.SHA256())
    )


def _openssl_sign(
    ca: trustme.CA,
    csr: x509.CertificateSigningRequest,
    extensions: list[str],
    digest: str = "sha1",
) -> bytes:
    """The CSR signed by `ca` with `digest` (SHA-1 or MD5), as PEM.

    cryptography refuses to sign with SHA-1 or MD5, so the openssl CLI signs the CSR.
    """
    with tempfile.TemporaryDirectory(prefix="hsts-lab-sha1-") as tmp:
        work = Path(tmp)
        (work / "req.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        (work / "ca.pem").write_bytes(ca.cert_pem.bytes())
        (work / "ca.key").write_bytes(ca.private_key_pem.bytes())
        (work / "ext.cnf").write_text("\n".join(extensions) + "\n")
        # fmt: off
        command: list[str | Path] = [
            "openssl", "x509", "-req", f"-{digest}",
            "-in", work / "req.csr",
            "-CA", work / "ca.pem",
            "-CAkey", work / "ca.key",
            "-set_serial", str(x509.random_serial_number()),
            "-days", str(_LIFETIME.days),
            "-extfile", work / "ext.cnf",
            "-out", work / "out.pem",
        ]
        # fmt: on
        subprocess.run(command, check=True, capture_output=True)
        return (work / "out.pem").read_bytes()


def _index_line(cert: x509.Certificate, *, revoked: bool) -> str:
    """One line of an OpenSSL CA database: status, expiry, revocation, serial, file, subject."""
    expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    when = (cert.not_valid_before_utc + _DAY / 2).strftime("%y%m%d%H%M%SZ") if revoked else ""
    when += ",keyCompromise" if revoked else ""  # the reason, as in the CRL
    serial = format(cert.serial_number, "X")
    serial = serial if len(serial) % 2 == 0 else "0" + serial
    subject = "/" + "/".join(a.rfc4514_string() for a in cert.subject)
    return f"{'R' if revoked else 'V'}\t{expiry}\t{when}\t{serial}\tunknown\t{subject}\n"


def _openssl_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """An RSA key smaller than cryptography generates (it refuses under 1024 bits)."""
    done = subprocess.run(["openssl", "genrsa", str(bits)], check=True, capture_output=True)
    key = serialization.load_pem_private_key(done.stdout, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _dh_params(path: Path) -> Path:
    """The RFC 7919 ffdhe2048 group as PEM DH parameters (a named group: nothing to compute)."""
    command = ["openssl", "genpkey", "-genparam", "-algorithm", "DH"]
    command += ["-pkeyopt", "group:ffdhe2048", "-out", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    return path


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([x509.DNSName(name) for name in names])


def _key_pem(key: LeafKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_pair(
    cert_dir: Path, key: CertKey, cert_pem: bytes, key_pem: bytes, *, dh_params: Path
) -> KeyPair:
    domain_dir = cert_dir / key.domain
    domain_dir.mkdir(exist_ok=True)
    pair = KeyPair(
        cert=domain_dir / f"{key.file_stem()}.pem",
        key=domain_dir / f"{key.file_stem()}.key",
        low_security=key.kind in _LOW_SECURITY,
        dh_params=dh_params,
    )
    pair.cert.write_bytes(cert_pem)
    pair.key.touch(mode=0o600)
    pair.key.write_bytes(key_pem)
    return pair
