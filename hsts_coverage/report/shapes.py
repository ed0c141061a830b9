"""The shapes of the report records: a TypedDict per record type and per object in one.

`records` writes them (the one writer), `reader` reads a file back into them, checking every field
against these declarations, and every view (table, html, json, junit, metrics, diff, merge) takes
them typed. A field is `NotRequired` unless every reader relies on it: a report written by an
older version may lack the fields added since (the README's compatibility rule), so readers use
`.get` for those. The records stay plain dicts (orjson writes them as they are, in the order
declared here). A data table of declarations, hence its length.
"""

# No `from __future__ import annotations` here: on Python 3.11 a TypedDict reads `NotRequired`
# when the class is made, and a string annotation hides it (the key would count as required).
from typing import Annotated, Literal, NotRequired, TypedDict

from hsts_coverage.models import Status, Verdict

# A str whose value must be one of the enum's (checked by the reader): `Annotated[str, Status]`.
StatusName = Annotated[str, Status]
VerdictName = Annotated[str, Verdict]


# -- the shapes ------------------------------------------------------------------------------------


class ReasonRecord(TypedDict):
    code: str
    severity: NotRequired[str]
    summary: NotRequired[str]
    chrome_error: NotRequired[str]
    firefox_error: NotRequired[str]
    detail: NotRequired[str]
    fix: NotRequired[str]


class DnsRecord(TypedDict, total=False):
    status: str
    cname_chain: list[str]
    dangling_target: str | None
    error: str | None


class RevocationRecord(TypedDict, total=False):
    status: str
    method: str | None
    url: str | None
    detail: str | None
    chrome_crlset: str | None


class CertificateRecord(TypedDict, total=False):
    subject: str
    sans: list[str]
    issuer: str
    not_before: str
    not_after: str
    days_left: int
    serial: str
    signature_algorithm: str | None
    self_signed: bool
    key_type: str
    key_bits: int
    ca_issuers: list[str]


class HttpsRecord(TypedDict, total=False):
    outcome: str
    error: str | None
    verify_code: int | None
    tls_version: str | None
    cipher: str | None
    alpn: str | None
    status: int | None
    location: str | None
    strict_transport_security: list[str]
    chain_completed_from: str | None
    revocation: RevocationRecord | None
    certificate: CertificateRecord | None
    elapsed_ms: float


class HttpRecord(TypedDict, total=False):
    outcome: str
    error: str | None
    status: int | None
    location: str | None
    elapsed_ms: float


class HopRecord(TypedDict, total=False):
    url: str
    status: int | None
    location: str | None
    upgraded_by_hsts: bool
    failure: str | None
    detail: str | None


class WalkRecord(TypedDict, total=False):
    end: str
    detail: str | None
    hops: list[HopRecord]


class AddressRecord(TypedDict, total=False):
    address: str
    status: StatusName
    reasons: list[str]


class CtRecord(TypedDict, total=False):
    certificates: int
    first_not_before: str | None
    last_not_after: str | None
    issuers: list[str]
    sources: list[str]


class HostTimings(TypedDict, total=False):
    total_ms: float
    https_ms: float | None
    http_ms: float | None


class ScanRecord(TypedDict):
    type: Literal["scan"]
    tool: NotRequired[str]
    version: NotRequired[str]
    schema_version: int
    started_at: NotRequired[str]
    options: NotRequired[dict[str, object]]
    merged_from: NotRequired[list[str]]
    scan_id: NotRequired[str]


class HostRecord(TypedDict):
    type: Literal["host"]
    host: str
    domain: str
    status: StatusName
    reasons: list[ReasonRecord]
    addresses: NotRequired[list[str]]
    probed_address: NotRequired[str | None]
    dns: NotRequired[DnsRecord]
    https: NotRequired[HttpsRecord | None]
    http: NotRequired[HttpRecord | None]
    redirects: NotRequired[WalkRecord | None]
    per_address: NotRequired[list[AddressRecord]]
    ct: NotRequired[CtRecord | None]
    found_by: NotRequired[list[str]]
    timings: NotRequired[HostTimings]
    scan_id: NotRequired[str]


class SourceRecord(TypedDict, total=False):
    status: str
    names: int
    detail: str


class EnumerationRecord(TypedDict, total=False):
    status: str
    complete: bool
    sources: list[str]
    rows: int
    attempts: int
    names: int
    wildcards: list[str]
    rejected: dict[str, int]
    error: str | None
    notes: list[str]
    authoritative: bool
    per_source: dict[str, SourceRecord]


class WildcardRecord(TypedDict):
    zone: str
    probe_name: NotRequired[str]
    addresses: NotRequired[list[str]]


class BrowserViewRecord(TypedDict, total=False):
    accepted: bool
    max_age: int | None
    effective_max_age: int | None
    include_subdomains: bool
    preload: bool
    reason: str


class PreloadIssueRecord(TypedDict):
    code: str
    message: str


class PreloadableRecord(TypedDict):
    errors: list[PreloadIssueRecord]
    warnings: list[PreloadIssueRecord]


class HstspreloadRecord(TypedDict):
    preloadable: PreloadableRecord


class HeaderIssueRecord(TypedDict):
    code: str
    severity: str
    message: str


class HeaderCheckRecord(TypedDict, total=False):
    header: str
    browser: BrowserViewRecord
    hstspreload: HstspreloadRecord
    issues: list[HeaderIssueRecord]


class ResponseRecord(TypedDict, total=False):
    url: str
    status: int | None
    location: str | None
    strict_transport_security: list[str]
    error: str | None


class PreloadListRecord(TypedDict, total=False):
    source: str
    preloaded: bool
    entry: str | None
    include_subdomains: bool
    policy: str | None


class RequirementRecord(TypedDict, total=False):
    code: str
    title: str
    status: str
    failures: list[str]
    detail: str | None


class PolicyRecord(TypedDict, total=False):
    domain: str
    strict_transport_security: list[str]
    effective: HeaderCheckRecord | None
    https_chain: list[ResponseRecord]
    http_chain: list[ResponseRecord]
    preload_list: PreloadListRecord
    requirements: list[RequirementRecord]
    preload_ready: bool


class SummaryRecord(TypedDict):
    type: Literal["summary"]
    domain: str
    verdict: NotRequired[VerdictName]
    exit_code: NotRequired[int]
    exit_meaning: NotRequired[str]
    why: NotRequired[str]
    hosts: NotRequired[int]
    counts: NotRequired[dict[str, int]]
    breaking: NotRequired[dict[str, list[str]]]
    warnings: NotRequired[dict[str, list[str]]]
    unknown: NotRequired[dict[str, list[str]]]
    enumeration: NotRequired[EnumerationRecord | None]
    wildcard_dns: NotRequired[list[WildcardRecord]]
    policy: NotRequired[PolicyRecord | None]
    advice: NotRequired[list[str]]
    timings: NotRequired[dict[str, float]]
    interrupted: NotRequired[bool]
    scan_id: NotRequired[str]


Record = ScanRecord | HostRecord | SummaryRecord
"""One record of a report, told apart by its `type`."""


# -- the name list of `hsts-coverage enumerate` (its own format: `report.namelist` reads it) ------


class NamesRecord(TypedDict):
    type: Literal["names"]
    tool: str
    version: str
    format_version: int


class NameListDomainRecord(EnumerationRecord):
    type: Literal["domain"]
    domain: str


class NameRecord(TypedDict):
    type: Literal["name"]
    domain: str
    name: str
    found_by: list[str]
    ct: CtRecord | None
