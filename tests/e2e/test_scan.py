"""The scanner end to end, through its real command line, against the local lab.

Every lab scenario's exact status and reasons are asserted from the one scenario table. Each
positive result has a negative twin: the same scan without the lab CA, without permission to probe
loopback, or against a CT source that is down must not look the same.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from hsts_coverage.lab.scenarios import SCENARIOS as ALL_SCENARIOS
from hsts_coverage.lab.scenarios import Cert, Dns, Listen, Scenario
from hsts_coverage.reasons import Reason
from hsts_coverage.resolve import MAX_CNAME_CHAIN
from tests.helpers import TIMEOUT, LabInfo, Run, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e

# The scans here ask crt.sh (the default source) only.
SCENARIOS = tuple(s for s in ALL_SCENARIOS if "crt.sh" in s.ct_sources)


HOST_FIELDS = {
    "type", "host", "domain", "status", "reasons", "addresses", "probed_address", "dns",
    "https", "http", "redirects", "per_address", "ct", "found_by", "timings", "scan_id",
}  # fmt: skip
REASON_FIELDS = {
    "code", "severity", "summary", "chrome_error", "firefox_error", "detail", "fix",
}  # fmt: skip
SUMMARY_FIELDS = {
    "type", "domain", "verdict", "exit_code", "exit_meaning", "why", "hosts", "counts",
    "breaking", "warnings", "unknown", "enumeration", "wildcard_dns", "policy", "advice",
    "timings", "interrupted", "scan_id",
}  # fmt: skip


@pytest.fixture(scope="module")
def lab_scan(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("scan")
    return hsts_coverage(["scan", lab.domain, *lab_options(lab), "--no-progress"], tmp)


def wildcard_probe_name(run: Run, zone: str) -> str:
    """The random name the scan resolved under a wildcard zone (and probed)."""
    zones = {z["zone"]: z["probe_name"] for z in run.summary()["wildcard_dns"]}
    return str(zones[zone])


def scanned_name(run: Run, scenario: Scenario, domain: str) -> str:
    if scenario.label.startswith("*."):
        return wildcard_probe_name(run, scenario.name(domain)[2:])
    return scenario.name(domain)


def met_during_the_scan(domain: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Names no source lists that the lab scan meets in CNAME chains, each scanned in the same
    run: name -> (status, reasons). Every link of the long chain is a name of its own: those
    whose rest of the chain is over the resolver's limit are DNS errors, the others reach www's
    address, whose certificate does not cover a name two labels deep."""
    met = {
        f"cname-loop-b.{domain}": ("unknown", ("dns_error",)),
        f"deleted-bucket.{domain}": ("not_affected", ("no_dns",)),
    }
    chain = next(s for s in SCENARIOS if s.dns is Dns.CNAME_CHAIN)
    for link in range(1, chain.chain_length + 1):
        cnames = chain.chain_length - link + 1  # l<link+1> ... l<N>, then www
        expected = ("unknown", ("dns_error",))
        if cnames <= MAX_CNAME_CHAIN:
            expected = ("breaks", ("cert_name_mismatch",))
        met[f"l{link}.{chain.name(domain)}"] = expected
    return met


def test_every_lab_host_gets_its_expected_verdict(lab: LabInfo, lab_scan: Run) -> None:
    hosts = lab_scan.hosts()
    met = met_during_the_scan(lab.domain)
    listed = [scanned_name(lab_scan, s, lab.domain) for s in SCENARIOS]
    assert sorted(hosts) == sorted([*listed, *met])
    for name, (status, reasons) in met.items():
        record = hosts[name]
        assert record["found_by"] == ["cname"], name
        assert (record["status"], tuple(r["code"] for r in record["reasons"])) == (status, reasons)
    for scenario in SCENARIOS:
        record = hosts[scanned_name(lab_scan, scenario, lab.domain)]
        reasons = tuple(r["code"] for r in record["reasons"])
        expected = tuple(r.value for r in scenario.expect_reasons)
        assert (record["status"], reasons) == (scenario.expect_status, expected), scenario.label


def test_exit_code_and_summary(lab_scan: Run) -> None:
    assert lab_scan.code == 1, lab_scan.stderr
    summary = lab_scan.summary()
    assert summary["verdict"] == "NOT SAFE"
    assert summary["exit_code"] == 1
    expected = {
        scanned_name(lab_scan, s, "hsts-lab.test"): (s.expect_status, s.expect_reasons)
        for s in SCENARIOS
    }
    expected |= {
        name: (status, tuple(Reason(r) for r in reasons))
        for name, (status, reasons) in met_during_the_scan("hsts-lab.test").items()
    }
    expected_counts: dict[str, int] = {}
    for status, _ in expected.values():
        expected_counts[status] = expected_counts.get(status, 0) + 1
    assert {k: v for k, v in summary["counts"].items() if v} == expected_counts
    assert summary["hosts"] == len(expected)
    breaking: dict[str, list[str]] = {}
    for name, (_, reasons) in expected.items():
        for reason in reasons:
            if reason.severity.value == "breaks":
                breaking.setdefault(reason.value, []).append(name)
    assert summary["breaking"] == {reason: sorted(hosts) for reason, hosts in breaking.items()}


def test_enumeration_facts(lab: LabInfo, lab_scan: Run) -> None:
    enumeration = lab_scan.summary()["enumeration"]
    assert enumeration["status"] == "complete"
    assert enumeration["sources"] == ["user", "crt.sh"]
    assert enumeration["attempts"] == 1
    assert enumeration["authoritative"] is False
    per_source = {name: report["names"] for name, report in enumeration["per_source"].items()}
    in_crtsh = sum("crt.sh" in s.ct_sources and not s.label.startswith("*.") for s in SCENARIOS)
    met = len(met_during_the_scan(lab.domain))
    assert per_source == {"user": 1, "crtsh": in_crtsh, "cname": met}
    assert enumeration["wildcards"] == [f"*.{lab.domain}", f"*.wild.{lab.domain}"]
    assert [z["zone"] for z in lab_scan.summary()["wildcard_dns"]] == [f"wild.{lab.domain}"]
    assert enumeration["rejected"] == {"email": 1, "ip_literal": 1, "invalid": 1, "out_of_scope": 2}
    www = lab_scan.hosts()[f"www.{lab.domain}"]["ct"]
    assert www["certificates"] == 4  # apex+www twice, upper-case once, its own entry
    assert lab_scan.hosts()[f"wild.{lab.domain}"]["ct"]["certificates"] == 1


def test_ndjson_records_have_the_documented_fields(lab_scan: Run) -> None:
    scan, *hosts, summary = lab_scan.records
    assert scan["type"] == "scan"
    assert scan["schema_version"] == 2
    assert set(scan) >= {"tool", "version", "started_at", "options"}
    assert summary["type"] == "summary"
    assert set(summary) == SUMMARY_FIELDS
    for host in hosts:
        assert set(host) == HOST_FIELDS
        for reason in host["reasons"]:
            assert set(reason) == REASON_FIELDS


def test_https_facts_of_a_valid_host(lab: LabInfo, lab_scan: Run) -> None:
    record = lab_scan.hosts()[f"www.{lab.domain}"]
    assert record["probed_address"] == lab.host("www")
    https = record["https"]
    assert https["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert https["status"] == 200
    certificate = https["certificate"]
    assert f"*.{lab.domain}" in certificate["sans"]
    assert certificate["days_left"] > 14
    assert record["http"]["status"] == 301
    assert record["http"]["location"] == f"https://www.{lab.domain}/"


def test_failed_verification_still_reports_the_certificate(lab: LabInfo, lab_scan: Run) -> None:
    https = lab_scan.hosts()[f"expired.{lab.domain}"]["https"]
    assert https["outcome"] == "cert_invalid"
    assert https["verify_code"] == 10
    assert https["certificate"]["days_left"] < 0


def test_cname_chain_and_redirect_walk(lab: LabInfo, lab_scan: Run) -> None:
    hosts = lab_scan.hosts()
    assert hosts[f"alias.{lab.domain}"]["dns"]["cname_chain"] == [f"www.{lab.domain}"]
    assert hosts[f"dangling.{lab.domain}"]["dns"]["dangling_target"] == (
        f"deleted-bucket.{lab.domain}"
    )
    walk = hosts[f"to-broken.{lab.domain}"]["redirects"]
    assert walk["end"] == "target_breaks"
    assert [hop["url"] for hop in walk["hops"]] == [
        f"https://to-broken.{lab.domain}/",
        f"https://expired.{lab.domain}/",
    ]
    assert walk["hops"][1]["failure"] == "cert_expired"
    upgrade = hosts[f"https-to-http.{lab.domain}"]["redirects"]
    assert upgrade["end"] == "to_http"


def test_terminal_report_lists_every_breaking_host(lab: LabInfo, lab_scan: Run) -> None:
    assert lab_scan.stdout.startswith(f"{lab.domain}: NOT SAFE")
    for scenario in SCENARIOS:
        if scenario.expect_status == "breaks":
            assert scenario.name(lab.domain) in lab_scan.stdout
    assert "NET::ERR_CERT_DATE_INVALID" in lab_scan.stdout


def _tls_scenario(scenario: Scenario) -> bool:
    resolves = scenario.dns is not Dns.NXDOMAIN and Reason.NO_DNS not in scenario.expect_reasons
    lab_dns = scenario.dns in (Dns.A, Dns.CNAME, Dns.WILDCARD)
    return resolves and lab_dns and scenario.https is Listen.TLS


def test_without_the_lab_ca_every_tls_host_is_untrusted(lab: LabInfo, tmp_path: Path) -> None:
    run = hsts_coverage(["scan", lab.domain, *lab_options(lab, ca=False)], tmp_path)
    hosts = run.hosts()
    for scenario in filter(_tls_scenario, SCENARIOS):
        reasons = [r["code"] for r in hosts[scanned_name(run, scenario, lab.domain)]["reasons"]]
        self_signed = scenario.cert in (Cert.SELF_SIGNED, Cert.EXPIRED_SELF_SIGNED)
        expected = "cert_self_signed" if self_signed else "cert_untrusted"
        # Authority first, as in Chrome (only an MD5 signature, invalid, comes before it); other
        # problems of the leaf may follow.
        if scenario.cert is Cert.MD5:
            assert reasons[:2] == ["cert_invalid", expected], scenario
            continue
        assert reasons[0] == expected, scenario
        assert "incomplete_chain" not in reasons
    assert run.summary()["counts"]["ok"] == 0
    assert run.code == 1


def test_loopback_is_not_probed_without_permission(lab: LabInfo, tmp_path: Path) -> None:
    run = hsts_coverage(["scan", lab.domain, *lab_options(lab, loopback=False)], tmp_path)
    probed = [h for h in run.hosts().values() if h["probed_address"] is not None]
    assert probed == []
    assert run.hosts()[f"www.{lab.domain}"]["reasons"][0]["code"] == "private_address"
    assert run.summary()["verdict"] == "INCONCLUSIVE"
    assert run.code == 3


def names_file(tmp_path: Path, *labels: str) -> Path:
    path = tmp_path / "names.txt"
    lines = ["# hosts we know of", *(f"{label}.hsts-lab.test" for label in labels), "", "junk!"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_safe_when_every_given_host_works(lab: LabInfo, tmp_path: Path) -> None:
    path = names_file(tmp_path, "www", "wild", "alias", "no-redirect")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(path)]
    run = hsts_coverage(args, tmp_path)
    assert run.code == 0, run.stdout
    summary = run.summary()
    assert summary["verdict"] == "SAFE"
    assert summary["hosts"] == 5  # the apex is always checked
    assert summary["enumeration"]["status"] == "skipped"
    assert summary["enumeration"]["rejected"] == {"invalid": 1}
    assert run.stdout.startswith(f"{lab.domain}: SAFE")


def test_one_broken_host_makes_it_not_safe(lab: LabInfo, tmp_path: Path) -> None:
    path = names_file(tmp_path, "www", "wild", "alias", "no-redirect", "expired")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(path)]
    run = hsts_coverage(args, tmp_path)
    assert run.code == 1
    assert run.summary()["breaking"] == {"cert_expired": [f"expired.{lab.domain}"]}


def test_options_from_the_environment(lab: LabInfo, tmp_path: Path) -> None:
    env = {
        "HSTS_COVERAGE_RESOLVER": lab.resolver,
        "HSTS_COVERAGE_CA_BUNDLE": lab.ca_bundle,
        "HSTS_COVERAGE_ALLOW_CIDR": "127.0.0.0/8",
        "HSTS_COVERAGE_NO_CT": "1",
        "HSTS_COVERAGE_NO_GUESS": "1",
        "HSTS_COVERAGE_QUIET": "1",
    }
    run = hsts_coverage(["scan", lab.domain], tmp_path, env)
    assert run.code == 0
    assert run.stdout.strip().startswith(f"{lab.domain}: SAFE")
    assert len(run.stdout.strip().splitlines()) == 1


def test_a_ct_source_that_is_down_is_never_safe(lab: LabInfo, tmp_path: Path) -> None:
    down = f"http://{lab.base}.0.3"  # nothing listens there
    args = ["scan", lab.domain, *lab_options(lab), "--ct-url", down, "--ct-attempts", "2"]
    run = hsts_coverage(args, tmp_path)
    assert run.code == 3
    summary = run.summary()
    assert summary["verdict"] == "INCONCLUSIVE"
    assert summary["enumeration"]["status"] == "failed"
    assert "gave up after 2 attempts" in summary["enumeration"]["error"]


def test_ndjson_to_stdout_and_json_document(lab: LabInfo, tmp_path: Path) -> None:
    base = ["scan", lab.domain, *lab_options(lab), "--no-ct"]
    streamed = hsts_coverage([*base, "-o", "-"], tmp_path)
    types = [orjson.loads(line)["type"] for line in streamed.stdout.splitlines()]
    assert types == ["scan", "host", "summary"]
    document = orjson.loads(hsts_coverage([*base, "--format", "json"], tmp_path).stdout)
    assert set(document) == {"scan", "hosts", "summaries"}
    assert document["summaries"][0]["verdict"] == "SAFE"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "not a domain"], "not a valid domain"),
        (["scan", "co.uk"], "public suffix"),
        (["scan", "example.com/path"], "not a domain"),
        (["scan", "example.com", "--names-file", "/nonexistent/names.txt"], "does not exist"),
        (["scan", "example.com", "--resolver", "dns.example"], "not an IP address"),
        (["scan", "example.com", "--ca-bundle", "/nonexistent.pem"], "does not exist"),
        (["scan", "example.com", "--concurrency", "0"], "concurrency"),
        (["scan", "example.com", "--timeout", "-1"], "timeout"),
        (["scan", "example.com", "--allow-cidr", "everything"], "not a network"),
        (["scan", "example.com", "--format", "xml"], "format"),
        (["scan", "example.com", "--bogus"], "No such option"),
        (["scan"], "no domain given"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    run = hsts_coverage(args, tmp_path)
    assert run.code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert run.records == []


def test_names_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "names.bin"
    path.write_bytes(b"\xff\xfe\x00junk")
    run = hsts_coverage(["scan", "example.com", "--names-file", str(path)], tmp_path)
    assert (run.code, run.stderr.strip()) == (
        2,
        f"hsts-coverage: error: names file {path} is not UTF-8 text",
    )


def test_a_url_is_taken_for_its_host(lab: LabInfo, tmp_path: Path) -> None:
    args = ["scan", f"https://{lab.domain.upper()}/some/path", *lab_options(lab), "--no-ct"]
    run = hsts_coverage(args, tmp_path)
    assert run.summary()["domain"] == lab.domain


def test_every_address_of_a_host_is_probed(lab: LabInfo, lab_scan: Run) -> None:
    record = lab_scan.hosts()[f"multi.{lab.domain}"]
    first, second = lab.host("multi"), lab.alt_addresses[f"multi.{lab.domain}"][0]
    assert record["per_address"] == [
        {"address": first, "status": "ok", "reasons": []},
        {"address": second, "status": "breaks", "reasons": ["cert_expired"]},
    ]
    assert record["reasons"][0]["detail"].startswith(f"{second}: ")


def test_only_the_first_address_when_asked(lab: LabInfo, tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text(f"multi.{lab.domain}\n", encoding="utf-8")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(path)]
    run = hsts_coverage([*args, "--first-address"], tmp_path)
    record = run.hosts()[f"multi.{lab.domain}"]
    assert record["status"] == "unknown"  # the second address was not checked: never SAFE
    assert [r["code"] for r in record["reasons"]] == ["addresses_not_probed"]
    assert record["per_address"] == [{"address": lab.host("multi"), "status": "ok", "reasons": []}]
    assert run.code == 3


def test_incomplete_chain_is_completed_from_aia(lab: LabInfo, lab_scan: Run) -> None:
    https = lab_scan.hosts()[f"incomplete-chain.{lab.domain}"]["https"]
    assert https["outcome"] == "ok"
    assert https["chain_completed_from"].endswith("/aia/lab-intermediate.der")
    dead = lab_scan.hosts()[f"dead-aia.{lab.domain}"]["https"]
    assert dead["chain_completed_from"] is None


def test_a_ca_bundle_that_is_not_pem(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n", encoding="utf-8")
    run = hsts_coverage(["scan", "example.com", "--ca-bundle", str(junk)], tmp_path)
    assert run.code == 2
    assert f"CA bundle {junk} cannot be used" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_both_ct_sources_merge_their_names(lab: LabInfo, tmp_path: Path) -> None:
    args = ["scan", lab.domain, *lab_options(lab), "--source", "crtsh,certspotter"]
    run = hsts_coverage([*args, "--certspotter-url", lab.ct_url, "--no-apex-check"], tmp_path)
    hosts = run.hosts()
    assert len(hosts) == len(ALL_SCENARIOS) + len(met_during_the_scan(lab.domain))
    assert hosts[f"only-certspotter.{lab.domain}"]["ct"]["sources"] == ["certspotter"]
    assert hosts[f"only-certspotter.{lab.domain}"]["status"] == "ok"
    assert hosts[f"www.{lab.domain}"]["ct"]["sources"] == ["certspotter", "crt.sh"]
    assert run.summary()["enumeration"]["sources"] == ["user", "crt.sh", "certspotter"]


def test_a_failing_source_is_never_safe(lab: LabInfo, tmp_path: Path) -> None:
    args = ["scan", "certspotter-forbidden.test", "--source", "certspotter"]
    args += ["--certspotter-url", lab.ct_url, "--resolver", lab.resolver, "--timeout", TIMEOUT]
    run = hsts_coverage([*args, "--allow-cidr", "127.0.0.0/8", "--no-apex-check"], tmp_path)
    summary = run.summary()
    assert summary["enumeration"]["status"] == "failed"
    assert "403" in summary["enumeration"]["error"]
    assert (summary["verdict"], run.code) == ("INCONCLUSIVE", 3)
