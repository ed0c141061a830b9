"""The lab's certificates: one lab CA and one server certificate per `Cert` kind.

`generate(domain, state_dir)` writes, fresh on every call (validity is relative to now):

- `STATE_DIR/ca.pem`: the lab CA, the only thing the scanner is told to trust (`--ca-bundle`);
- `STATE_DIR/certs/<kind>.pem` and `<kind>.key`: the chain a listener presents (the leaf alone:
  every issuer is a root) and its private key.

Against a client context built from `ca.pem` (host name checks on, SECLEVEL=2) each kind fails
with a distinct OpenSSL verify code: EXPIRED 10, NOT_YET_VALID 9, SELF_SIGNED 18, UNKNOWN_CA 20,
WRONG_NAME 62, SHA1 68 (CA_MD_TOO_WEAK); VALID and EXPIRING_SOON verify for the apex and any
single label under it (and give 62 two labels down: a wildcard covers one label).
Every key is ECDSA P-256: quick to generate at each start.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hsts_coverage.lab.scenarios import Cert

_ORGANIZATION = "HSTS Lab"
_LIFETIME = dt.timedelta(days=90)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """Where a listener's certificate chain and private key are (PEM files)."""

    cert: Path
    key: Path
    # OpenSSL 3 refuses to even load a SHA-1-signed certificate above security level 0.
    weak_signature: bool = False


@dataclass(frozen=True, slots=True)
class LabCertificates:
    ca_bundle: Path
    pairs: dict[Cert, KeyPair]


def generate(domain: str, state_dir: Path) -> LabCertificates:
    """Create the lab CA and every kind of server certificate under `state_dir`."""
    cert_dir = state_dir / "certs"
    cert_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name=_ORGANIZATION)
    ca_bundle = (state_dir / "ca.pem").resolve()
    ca.cert_pem.write_to_path(str(ca_bundle))
    pairs = {kind: _write_pair(cert_dir, kind, *_make(kind, ca, domain)) for kind in Cert}
    return LabCertificates(ca_bundle=ca_bundle, pairs=pairs)


def _make(kind: Cert, ca: trustme.CA, domain: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for one kind."""
    names = (domain, f"*.{domain}")
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    match kind:
        case Cert.VALID:
            return _leaf(ca, names)
        case Cert.EXPIRED:
            return _leaf(ca, names, not_before=now - 30 * day, not_after=now - day)
        case Cert.NOT_YET_VALID:
            return _leaf(ca, names, not_before=now + 10 * day, not_after=now + 100 * day)
        case Cert.EXPIRING_SOON:
            return _leaf(ca, names, not_before=now - 30 * day, not_after=now + 3 * day)
        case Cert.WRONG_NAME:
            return _leaf(ca, ("other-site.test",))
        case Cert.UNKNOWN_CA:
            # A second CA, deliberately never written to ca.pem.
            return _leaf(trustme.CA(organization_name=f"{_ORGANIZATION} Rogue"), names)
        case Cert.SELF_SIGNED:
            return _self_signed(names, now)
        case Cert.SHA1:
            return _sha1_leaf(ca, names)


def _leaf(
    ca: trustme.CA,
    names: tuple[str, ...],
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> tuple[bytes, bytes]:
    # A realistic window by default (trustme's own spans 2000-3000), so "days left" looks real.
    now = dt.datetime.now(dt.UTC)
    not_before = not_before or now - dt.timedelta(days=1)
    not_after = not_after or now + _LIFETIME
    leaf = ca.issue_cert(
        *names,
        organization_name=_ORGANIZATION,
        not_before=not_before,
        not_after=not_after,
    )
    # Only the leaf: the issuer is a root, and a client either has it or must fail to find it.
    return leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes()


def _self_signed(names: tuple[str, ...], now: dt.datetime) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _sha1_leaf(ca: trustme.CA, names: tuple[str, ...]) -> tuple[bytes, bytes]:
    """A lab-CA leaf signed with ecdsa-with-SHA1.

    cryptography refuses to sign with SHA-1, so the openssl CLI signs a CSR with the CA key.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .sign(key, hashes.SHA256())
    )
    extensions = "\n".join(
        [
            "basicConstraints = critical, CA:FALSE",
            "extendedKeyUsage = serverAuth",
            "subjectAltName = " + ", ".join(f"DNS:{name}" for name in names),
        ]
    )
    with tempfile.TemporaryDirectory(prefix="hsts-lab-sha1-") as tmp:
        work = Path(tmp)
        (work / "leaf.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        (work / "ca.pem").write_bytes(ca.cert_pem.bytes())
        (work / "ca.key").write_bytes(ca.private_key_pem.bytes())
        (work / "ext.cnf").write_text(extensions + "\n")
        # fmt: off
        command: list[str | Path] = [
            "openssl", "x509", "-req", "-sha1",
            "-in", work / "leaf.csr",
            "-CA", work / "ca.pem",
            "-CAkey", work / "ca.key",
            "-set_serial", str(x509.random_serial_number()),
            "-days", str(_LIFETIME.days),
            "-extfile", work / "ext.cnf",
            "-out", work / "leaf.pem",
        ]
        # fmt: on
        subprocess.run(command, check=True, capture_output=True)
        return (work / "leaf.pem").read_bytes(), _key_pem(key)


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([x509.DNSName(name) for name in names])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_pair(cert_dir: Path, kind: Cert, cert_pem: bytes, key_pem: bytes) -> KeyPair:
    pair = KeyPair(
        cert=cert_dir / f"{kind.value}.pem",
        key=cert_dir / f"{kind.value}.key",
        weak_signature=kind is Cert.SHA1,
    )
    pair.cert.write_bytes(cert_pem)
    pair.key.touch(mode=0o600)
    pair.key.write_bytes(key_pem)
    return pair
