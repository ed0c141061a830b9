"""The report's JSON Schema: a valid draft 2020-12 schema whose enums are the code's enums, and
which accepts the records `report.records` builds and refuses each of their broken twins.

Records are built offline here from the frozen models, through the real record builders; the
end-to-end twin (tests/e2e/test_schema_lab.py) validates every record of a lab scan.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import (
    ApexFacts,
    ApexReport,
    Certificate,
    CheckStatus,
    CtFacts,
    DnsAnswer,
    DnsStatus,
    Enumeration,
    EnumerationStatus,
    Failure,
    FailureKind,
    FoundBy,
    Hop,
    HostResult,
    HttpFacts,
    HttpsFacts,
    IssueSeverity,
    Outcome,
    PreloadStatus,
    Probe,
    RedirectWalk,
    Response,
    Status,
    Verdict,
    WalkEnd,
    WildcardZone,
)
from hsts_coverage.reasons import Reason, Severity
from hsts_coverage.report.records import SCHEMA_VERSION, host_record, scan_record, summary_record
from hsts_coverage.report.schema import load_schema, schema_text
from hsts_coverage.report.shapes import Record
from hsts_coverage.rules.host import judge_dns, judge_probes, verdict_of
from hsts_coverage.rules.preload import judge_apex
from hsts_coverage.rules.summary import EXIT_CODES, Tally

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DOMAIN = "example.com"

Schema = dict[str, Any]


def closed(schema: Schema) -> Schema:
    """The schema with every record's object closed: a property it does not name is an error.

    (The root only says which `type`s exist; the records' own definitions are closed.)"""
    return {**schema, "$defs": _closed(schema["$defs"])}


def _closed(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {key: _closed(value) for key, value in schema.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


def validator(schema: Schema) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def errors(record: Record, *, strict: bool = True) -> list[str]:
    """Why the record is invalid (empty when valid), at the field that is wrong.

    `oneOf` only says that no branch matched; once it fails, the record is validated against
    the definition its `type` names, which says where and why."""
    schema = closed(load_schema()) if strict else load_schema()
    if not list(validator(schema).iter_errors(record)):
        return []
    branch = f"#/$defs/{record.get('type')}_record"
    if record.get("type") not in ("scan", "host", "summary"):
        branch = "#"
    precise = {**{k: v for k, v in schema.items() if k != "oneOf"}, "allOf": [{"$ref": branch}]}
    found = [
        f"{'/'.join(map(str, error.absolute_path)) or '(record)'}: {error.message}"
        for error in validator(precise if branch != "#" else schema).iter_errors(record)
    ]
    return found or ["does not match exactly one record type"]


# -- records built from the models, through report.records -----------------------------------------


def certificate() -> Certificate:
    return Certificate(
        subject="CN=www.example.com",
        sans=("www.example.com",),
        issuer="CN=Example CA",
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=60),
        serial="0a1b",
        signature_algorithm="sha256",
        self_signed=False,
        key_type="RSA",
        key_bits=2048,
        ca_issuers=("http://ca.example.net/ca.der",),
    )


def probed_host() -> HostResult:
    """A host with every section filled: certificate, redirect hops, two addresses."""
    https = HttpsFacts(
        Outcome.OK, tls_version="TLSv1.3", cert=certificate(), status=301,
        location="https://www.example.com/home", sts=("max-age=300",), elapsed_ms=12.5,
    )  # fmt: skip
    http = HttpFacts(Outcome.OK, status=301, location="https://www.example.com/", elapsed_ms=3.0)
    hops = (
        Hop("https://www.example.com/", status=301, location="http://www.example.com/home"),
        Hop("https://www.example.com/home", status=200, upgraded=True),
    )
    walk = RedirectWalk(WalkEnd.PAGE, hops)
    failure = Failure(FailureKind.CERT_VERIFY, "certificate has expired", verify_code=10)
    expired = HttpsFacts(Outcome.CERT_INVALID, failure)
    probes = (
        Probe("192.0.2.1", https, http, walk),
        Probe("192.0.2.2", expired, http, None),
    )
    findings, per_address = judge_probes(probes, "www.example.com", now=NOW, expiry_days=14)
    ct = CtFacts(2, NOW - timedelta(days=400), NOW + timedelta(days=60), ("CN=Example CA",))
    dns = DnsAnswer("www.example.com", DnsStatus.RESOLVED, ("192.0.2.1", "192.0.2.2"))
    verdict = verdict_of(findings, per_address)
    return HostResult("www.example.com", DOMAIN, dns, probes, verdict, ct, 20.0)


def unresolved_host() -> HostResult:
    """A host that never got probed: every probe section is null."""
    dns = DnsAnswer(
        "old.example.com", DnsStatus.NXDOMAIN, cname_chain=("gone.example.net",),
        dangling_target="gone.example.net",
    )  # fmt: skip
    return HostResult("old.example.com", DOMAIN, dns, (), verdict_of(judge_dns(dns)), None, 1.0)


def apex_report() -> ApexReport:
    sts = ("max-age=400000000; includeSubDomains", "max-age=1")
    chain = (Response(f"https://{DOMAIN}/", 200, sts=sts),)
    http = (Response(f"http://{DOMAIN}/", 301, location=f"https://{DOMAIN}/"), *chain)
    facts = ApexFacts(DOMAIN, chain, http, www_resolves=True)
    return judge_apex(facts, PreloadStatus("test list", None))


def lab_like_records() -> list[Record]:
    hosts = [probed_host(), unresolved_host()]
    tally = Tally(DOMAIN)
    for host in hosts:
        tally.add(host)
    names = tuple(h.name for h in hosts)
    enumeration = Enumeration(
        DOMAIN, EnumerationStatus.COMPLETE, names, sources=("crt.sh",), rows=3, attempts=1,
        wildcards=(f"*.{DOMAIN}",), rejected={"email": 1},
    )  # fmt: skip
    zone = WildcardZone(DOMAIN, f"x1.{DOMAIN}", frozenset({"192.0.2.9"}))
    summary = tally.summary(enumeration, wildcard_zones=(zone,), apex=apex_report())
    config = ScanConfig(domains=(DOMAIN,))
    return [
        scan_record(config, NOW),
        *(host_record(h, NOW) for h in hosts),
        summary_record(summary),
    ]


# -- the schema itself ----------------------------------------------------------------------------


def test_the_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(closed(schema))


def test_the_shipped_text_is_the_schema() -> None:
    assert schema_text().startswith("{")
    assert schema_text().endswith("}\n")


def test_the_schema_ships_with_the_package() -> None:
    """Wheels carry only the package data pyproject names (an editable install hides this)."""
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert "report/schema.json" in pyproject["tool"]["setuptools"]["package-data"]["hsts_coverage"]


def definition(name: str) -> Schema:
    definitions: dict[str, Schema] = load_schema()["$defs"]
    return definitions[name]


def test_reason_codes_are_the_reason_enum() -> None:
    assert definition("reason_code")["enum"] == [reason.value for reason in Reason]


@pytest.mark.parametrize(
    ("name", "severity"),
    [
        ("breaking_code", Severity.BREAKS),
        ("warning_code", Severity.WARN),
        ("unknown_code", Severity.UNKNOWN),
        ("not_affected_code", Severity.NOT_AFFECTED),
        ("info_code", Severity.INFO),
    ],
)
def test_reason_codes_by_severity(name: str, severity: Severity) -> None:
    assert definition(name)["enum"] == [r.value for r in Reason if r.severity is severity]
    rule = {
        "if": {"properties": {"code": {"$ref": f"#/$defs/{name}"}}},
        "then": {"properties": {"severity": {"const": severity.value}}},
    }
    assert rule in definition("reason")["allOf"]


@pytest.mark.parametrize(
    ("name", "enum"),
    [
        ("severity", Severity),
        ("status", Status),
        ("verdict", Verdict),
        ("outcome", Outcome),
        ("dns_status", DnsStatus),
        ("walk_end", WalkEnd),
        ("enumeration_status", EnumerationStatus),
        ("found_by", FoundBy),
        ("check_status", CheckStatus),
        ("issue_severity", IssueSeverity),
    ],
)
def test_enums_are_the_code_enums(name: str, enum: type[StrEnum]) -> None:
    assert definition(name)["enum"] == [member.value for member in enum]


def test_schema_version_and_exit_codes_follow_the_code() -> None:
    assert definition("scan_record")["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    summary = definition("summary_record")
    assert sorted(summary["properties"]["exit_code"]["enum"]) == sorted(EXIT_CODES.values())
    rules = {
        rule["if"]["properties"]["verdict"]["const"]: rule["then"]["properties"]["exit_code"]
        for rule in summary["allOf"]
    }
    assert rules == {verdict.value: {"const": code} for verdict, code in EXIT_CODES.items()}


# -- records: accepted as built, refused when broken -----------------------------------------------


def test_the_built_records_are_valid_with_every_object_closed() -> None:
    for record in lab_like_records():
        assert errors(record) == [], record["type"]


def test_every_section_of_a_host_record_is_exercised() -> None:
    _, probed, unresolved, summary = lab_like_records()
    assert probed["https"]["certificate"] is not None
    assert len(probed["redirects"]["hops"]) == 2
    assert len(probed["per_address"]) == 2
    assert unresolved["https"] is None
    assert summary["policy"]["effective"] is not None


def test_unknown_properties_are_allowed_only_by_the_shipped_schema() -> None:
    host = {**lab_like_records()[1], "new_field": 1}
    assert errors(host, strict=False) == []
    assert errors(host) != []


def mutate(path: tuple[str | int, ...], value: Any) -> Callable[[Record], None]:
    def apply(record: Record) -> None:
        target: Any = record
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


DELETE = object()


def _case_id(value: object) -> str:
    # Stable across processes (an object's default repr holds its address), so that parallel
    # workers collect the same test ids.
    return "DELETE" if value is DELETE else str(value)


BROKEN = [
    (0, ("type",), "report"),
    (0, ("schema_version",), 99),
    (0, ("started_at",), "2026-11-21 12:00"),
    (0, ("options", "concurrency"), 0),
    (0, ("options", "shard"), "0/4"),
    (0, ("merged_from",), []),
    (1, ("status",), "fine"),
    (1, ("reasons", 0, "code"), "no_such_reason"),
    (1, ("reasons", 0, "severity"), "warn"),  # cert_expired is a breaking reason
    (1, ("https", "certificate", "days_left"), "60"),
    (1, ("https", "status"), 42),
    (1, ("redirects", "end"), "somewhere"),
    (1, ("redirects", "hops", 1, "upgraded_by_hsts"), "yes"),
    (1, ("per_address", 1, "reasons", 0), "expired"),
    (1, ("timings",), DELETE),
    (2, ("dns", "status"), "gone"),
    (2, ("https",), {}),
    (3, ("verdict",), "MAYBE"),
    (3, ("exit_code",), 3),  # NOT SAFE exits 1
    (3, ("breaking", "no_http_redirect"), ["www.example.com"]),  # a warning, not breaking
    (3, ("counts", "fine"), 1),
    (3, ("enumeration", "status"), "partial"),
    (3, ("policy", "requirements", 0, "status"), "ok"),
    (3, ("policy", "effective", "issues", 0, "severity"), "fatal"),
    (3, ("timings", "finished"), -1.0),
    (3, ("interrupted",), DELETE),
]


@pytest.mark.parametrize(("index", "path", "value"), BROKEN, ids=_case_id)
def test_a_broken_record_is_refused(index: int, path: tuple[str | int, ...], value: Any) -> None:
    record = copy.deepcopy(lab_like_records()[index])
    assert errors(record) == []
    mutate(path, value)(record)
    assert errors(record, strict=False) != []
