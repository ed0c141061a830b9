"""Pure: the browsers' distrust-after constraints, as data, and what they say of a leaf.

A root can stay in a browser's store while the browser trusts it only for certificates issued
before a date: Chrome's root store gives such a root a `sct_not_after_sec` constraint
(chromium/chromium net/data/ssl/chrome_root_store/root_store.textproto: a chain is trusted only
with a valid SCT at or before that time), Mozilla's certdata.txt a
`CKA_NSS_SERVER_DISTRUST_AFTER` date (nss lib/ckfw/builtins/certdata.txt: the leaf's notBefore
must not be after it). Such a leaf breaks: Chrome shows NET::ERR_CERT_AUTHORITY_INVALID, Firefox
MOZILLA_PKIX_ERROR_ISSUER_NO_LONGER_TRUSTED; where only one browser distrusts, the reason says
which.

`BUILT_IN` is the table, one row per root, with its source and date; the root is matched by the
SHA-256 fingerprint of the verified chain's last certificate. Chrome's constraint is on the SCT
time, which the scanner does not read: the leaf's notBefore stands for it (CAs log a certificate
when they issue it, so the two differ by minutes; a certificate backdated by its CA would be
judged by its notBefore). `--distrust-file` adds rows (the same fields, as JSON), e.g. for a
private root being retired. Read on 2026-12-01 from the Chrome Root Program's announcements and
root store (Entrust: 2024-06-27; Chunghwa Telecom and Netlock: 2025-05-30) and Mozilla's
announcement for Entrust (2024-07-31, Bugzilla 1910357); the fingerprints were checked against
the roots' own certificates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hsts_coverage.models import Certificate, Finding
from hsts_coverage.reasons import Reason


@dataclass(frozen=True, slots=True)
class Constraint:
    """One root trusted only for certificates issued up to a date, per browser."""

    root: str  # the root's subject, for people
    sha256: str  # the root certificate's SHA-256 fingerprint, lower-case hex
    chrome_after: datetime | None  # Chrome: issued after this (SCT time) -> distrusted
    firefox_after: datetime | None  # Firefox: notBefore after this -> distrusted
    source: str


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_ENTRUST_CHROME = _utc("2024-11-11T23:59:59")  # sct_not_after_sec 1731369599
_ENTRUST_FIREFOX = _utc("2024-11-30T23:59:59")  # CKA_NSS_SERVER_DISTRUST_AFTER
_ENTRUST_SOURCE = (
    "Chrome Root Program, 2024-06-27 (root_store.textproto sct_not_after_sec); Mozilla, "
    "2024-07-31 (certdata.txt CKA_NSS_SERVER_DISTRUST_AFTER, Bugzilla 1910357)"
)
_CHT_NETLOCK_CHROME = _utc("2025-07-31T23:59:59")  # sct_not_after_sec 1753999199
_CHT_NETLOCK_SOURCE = "Chrome Root Program, 2025-05-30 (root_store.textproto sct_not_after_sec)"


def _entrust(root: str, sha256: str) -> Constraint:
    return Constraint(root, sha256, _ENTRUST_CHROME, _ENTRUST_FIREFOX, _ENTRUST_SOURCE)


def _chrome_2025(root: str, sha256: str) -> Constraint:
    return Constraint(root, sha256, _CHT_NETLOCK_CHROME, None, _CHT_NETLOCK_SOURCE)


# fmt: off
BUILT_IN: tuple[Constraint, ...] = (
    _entrust("CN=Entrust Root Certification Authority",
             "73c176434f1bc6d5adf45b0e76e727287c8de57616c1e6e6141a2b2cbc7d8e4c"),
    _entrust("CN=Entrust Root Certification Authority - EC1",
             "02ed0eb28c14da45165c566791700d6451d7fb56f0b2ab1d3b8eb070e56edff5"),
    _entrust("CN=Entrust Root Certification Authority - G2",
             "43df5774b03e7fef5fe40d931a7bedf1bb2e6b42738c4e6d3841103d3aa7f339"),
    _entrust("CN=Entrust Root Certification Authority - G4",
             "db3517d1f6732a2d5ab97c533ec70779ee3270a62fb4ac4238372460e6f01e88"),
    _entrust("CN=Entrust.net Certification Authority (2048)",
             "6dc47172e01cbcb0bf62580d895fe2b8ac9ad4f873801e0c10b9c837d21eb177"),
    _entrust("CN=AffirmTrust Commercial",
             "0376ab1d54c5f9803ce4b2e201a0ee7eef7b57b636e8a93c9b8d4860c96f5fa7"),
    _entrust("CN=AffirmTrust Networking",
             "0a81ec5a929777f145904af38d5d509f66b5e2c58fcdb531058b0e17f3f0b41b"),
    _entrust("CN=AffirmTrust Premium",
             "70a73f7f376b60074248904534b11482d5bf0e698ecc498df52577ebf2e93b9a"),
    _entrust("CN=AffirmTrust Premium ECC",
             "bd71fdf6da97e4cf62d1647add2581b07d79adf8397eb4ecba9c5e8488821423"),
    _chrome_2025("OU=ePKI Root Certification Authority,O=Chunghwa Telecom Co.\\, Ltd.",
                 "c0a6f4dc63a24bfdcf54ef2a6a082a0a72de35803e2ff5ff527ae5d87206dfd5"),
    _chrome_2025("CN=HiPKI Root CA - G1,O=Chunghwa Telecom Co.\\, Ltd.",
                 "f015ce3cc239bfef064be9f1d2c417e1a0264a0a94be1f0c8d121864eb6949cc"),
    _chrome_2025("CN=NetLock Arany (Class Gold) Főtanúsítvány",
                 "6c61dac3a2def031506be036d2a6fe401994fbd13df9c8d466599274c446ec98"),
)
# fmt: on


def table(extra: Iterable[Constraint] = ()) -> dict[str, Constraint]:
    """Fingerprint -> constraint: the built-in rows, then `extra` (a later row replaces one)."""
    return {row.sha256: row for row in (*BUILT_IN, *extra)}


def parse_rows(rows: object) -> tuple[Constraint, ...]:
    """Rows of a `--distrust-file` (a JSON list of objects); raises ValueError with the reason."""
    if not isinstance(rows, list):
        raise ValueError("a JSON list of constraints is expected")
    return tuple(_row(row, index) for index, row in enumerate(rows))


def _row(row: object, index: int) -> Constraint:
    if not isinstance(row, dict) or not isinstance(row.get("sha256"), str):
        raise ValueError(f"row {index}: an object with a sha256 fingerprint is expected")
    fingerprint = row["sha256"].replace(":", "").lower()
    if len(fingerprint) != 64 or any(c not in "0123456789abcdef" for c in fingerprint):
        raise ValueError(f"row {index}: sha256 is not 64 hexadecimal digits")
    after = {key: _date(row.get(key), index, key) for key in ("chrome_after", "firefox_after")}
    if after["chrome_after"] is None and after["firefox_after"] is None:
        raise ValueError(f"row {index}: neither chrome_after nor firefox_after is given")
    root, source = str(row.get("root", fingerprint)), str(row.get("source", "--distrust-file"))
    return Constraint(root, fingerprint, after["chrome_after"], after["firefox_after"], source)


def _date(value: object, index: int, key: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"row {index}: {key} is not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def distrust_findings(cert: Certificate | None, rows: Mapping[str, Constraint]) -> list[Finding]:
    """The finding for a verified leaf issued after its root's distrust date, if any."""
    if cert is None or not cert.root_sha256 or cert.root_sha256 not in rows:
        return []
    row = rows[cert.root_sha256]
    chrome = row.chrome_after is not None and cert.not_before > row.chrome_after
    firefox = row.firefox_after is not None and cert.not_before > row.firefox_after
    if not (chrome or firefox):
        return []
    reason = (
        Reason.CERT_DISTRUSTED
        if chrome and firefox
        else Reason.CERT_DISTRUSTED_CHROME
        if chrome
        else Reason.CERT_DISTRUSTED_FIREFOX
    )
    dates = []
    if row.chrome_after is not None:
        dates.append(f"after {row.chrome_after:%Y-%m-%d} by Chrome")
    if row.firefox_after is not None:
        dates.append(f"after {row.firefox_after:%Y-%m-%d} by Firefox")
    detail = (
        f"issued {cert.not_before:%Y-%m-%d} under {row.root}, whose certificates issued "
        f"{' and '.join(dates)} are distrusted ({row.source})"
    )
    return [Finding(reason, detail)]
