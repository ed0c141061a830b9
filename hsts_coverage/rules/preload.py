"""Pure: the HSTS preload list's requirements, the list itself, and advice for a roll-out.

Requirement codes are those of the hstspreload.org checker, so users can compare both tools:
`domain.tls.*`, `domain.www.no_tls`, `redirects.*`, `response.no_header` and the header codes
of `rules.preload_header`. `response.http.sts_ignored` is ours (a warning: browsers ignore
an STS header received over plain HTTP, RFC 6797 section 8.1).

`judge_apex` turns the apex's facts into its report: the first STS field of its own HTTPS answer
checked once, which the requirements, the domain's verdict and the record all take from there.

Preload-list lookups follow Chromium: the most specific entry for the host or one of its
ancestors wins, and an ancestor's entry applies only with include_subdomains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson

from hsts_coverage.models import (
    INVALID_REDIRECT,
    ApexFacts,
    ApexReport,
    CheckStatus,
    HeaderCheck,
    PreloadEntry,
    PreloadStatus,
    Requirement,
    Response,
    Verdict,
)
from hsts_coverage.rules.hsts_header import check_header

MAX_PRELOAD_REDIRECTS = 3
ROLLOUT = (
    ("max-age=300; includeSubDomains", "5 minutes: watch for breakage"),
    ("max-age=604800; includeSubDomains", "1 week"),
    ("max-age=2592000; includeSubDomains", "1 month"),
    ("max-age=31536000; includeSubDomains", "1 year"),
    ("max-age=63072000; includeSubDomains; preload", "2 years, then submit to hstspreload.org"),
)


def judge_apex(facts: ApexFacts, preload: PreloadStatus) -> ApexReport:
    """The apex's facts judged: the first STS field of its own HTTPS answer checked once (as
    browsers and as hstspreload.org read it), and every preload requirement."""
    sts = facts.https_chain[0].sts
    effective = check_header(sts[0]) if sts else None
    return ApexReport(facts, requirements(facts, effective), preload, effective)


def requirements(facts: ApexFacts, effective: HeaderCheck | None) -> tuple[Requirement, ...]:
    """Every preload requirement, passed or not, in the order hstspreload.org checks them;
    `effective` is the check of the apex's first STS field (`judge_apex`)."""
    return (
        _tls(facts),
        _http_redirect(facts),
        _redirect_chains(facts),
        *_header(facts, effective),
        _www(facts),
        _sts_over_http(facts),
    )


def _tls(facts: ApexFacts) -> Requirement:
    title = "valid certificate on the apex"
    first = facts.https_chain[0]
    if first.status is not None:
        return Requirement("domain.tls", title, CheckStatus.PASS)
    code = "domain.tls.invalid_cert_chain" if first.cert_invalid else "domain.tls.cannot_connect"
    return Requirement("domain.tls", title, CheckStatus.FAIL, (code,), first.error)


def _http_redirect(facts: ApexFacts) -> Requirement:
    title = "port 80 redirects first to https:// on the same host"
    chain, domain = facts.http_chain, facts.domain
    if not chain:
        return Requirement("redirects.http", title, CheckStatus.PASS, detail="port 80 is closed")
    target = _redirect_target(chain[0])
    if target is None:
        fail = ("redirects.http.no_redirect",)
        detail = f"http://{domain}/ answers {chain[0].status or chain[0].error}"
        return Requirement("redirects.http", title, CheckStatus.FAIL, fail, detail)
    if target.startswith(f"https://{domain}/") or target == f"https://{domain}":
        return Requirement("redirects.http", title, CheckStatus.PASS, detail=f"-> {target}")
    www_first = f"//www.{domain}" in target
    code = "redirects.http.www_first" if www_first else "redirects.http.first_redirect.insecure"
    return Requirement("redirects.http", title, CheckStatus.FAIL, (code,), f"-> {target}")


def _redirect_chains(facts: ApexFacts) -> Requirement:
    title = f"at most {MAX_PRELOAD_REDIRECTS} redirects, all to https://"
    failures: list[str] = []
    details: list[str] = []
    for chain in (facts.http_chain, facts.https_chain):
        targets = [t for t in (_redirect_target(r) for r in chain) if t is not None]
        if len(targets) > MAX_PRELOAD_REDIRECTS:
            failures.append("redirects.too_many")
            details.append(f"{chain[0].url}: {len(targets)} redirects")
        if chain and chain[-1].error.startswith(INVALID_REDIRECT):  # no browser follows it
            failures.append("redirects.follow_error")
            details.append(f"{chain[-2].url}: {chain[-1].error}")
        skip_first = chain is facts.http_chain  # http:// -> https:// is the point of it
        failures += _insecure_hops(targets[1:] if skip_first else targets, skip_first)
    status = CheckStatus.FAIL if failures else CheckStatus.PASS
    return Requirement(
        "redirects", title, status, tuple(dict.fromkeys(failures)), "; ".join(details)
    )


def _insecure_hops(targets: list[str], after_first: bool) -> list[str]:
    for index, target in enumerate(targets):
        if target.startswith("http://"):
            initial = index == 0 and not after_first
            return ["redirects.insecure.initial" if initial else "redirects.insecure.subsequent"]
    return []


def _header(facts: ApexFacts, check: HeaderCheck | None) -> tuple[Requirement, ...]:
    title = "HSTS header on the response to https://apex/ itself"
    first = facts.https_chain[0]
    if first.status is None:
        detail = "no HTTPS response to read it from"
        return (Requirement("response.header", title, CheckStatus.NOT_CHECKED, detail=detail),)
    if check is None:
        detail = "a redirect response must carry the header too" if first.location else ""
        fail = ("response.no_header",)
        return (Requirement("response.header", title, CheckStatus.FAIL, fail, detail),)
    errors = tuple(i.code for i in check.preload_errors)
    warnings = tuple(i.code for i in check.preload_warnings)
    header = Requirement("response.header", title, CheckStatus.PASS, detail=check.header)
    policy_title = "max-age >= 31536000, includeSubDomains, preload"
    if errors:
        return header, Requirement("header", policy_title, CheckStatus.FAIL, errors + warnings)
    status = CheckStatus.WARN if warnings else CheckStatus.PASS
    return header, Requirement("header", policy_title, status, warnings)


def _www(facts: ApexFacts) -> Requirement:
    title = "www supports HTTPS (it has DNS records)"
    if not facts.www_resolves:
        return Requirement("domain.www", title, CheckStatus.PASS, detail="www has no DNS records")
    if facts.www_https_error:
        fail = ("domain.www.no_tls",)
        return Requirement("domain.www", title, CheckStatus.FAIL, fail, facts.www_https_error)
    return Requirement("domain.www", title, CheckStatus.PASS)


def _sts_over_http(facts: ApexFacts) -> Requirement:
    title = "no HSTS header over plain HTTP (browsers ignore it there)"
    sent = [r.url for r in facts.http_chain if r.sts and r.url.startswith("http://")]
    if sent:
        code = ("response.http.sts_ignored",)
        return Requirement("response.http", title, CheckStatus.WARN, code, ", ".join(sent))
    return Requirement("response.http", title, CheckStatus.PASS)


def _redirect_target(response: Response) -> str | None:
    if response.status in (301, 302, 303, 307, 308) and response.location:
        return response.location
    return None


# -- the preload list ------------------------------------------------------------------------------


def parse_chromium_list(text: str) -> dict[str, PreloadEntry]:
    """Chromium's transport_security_state_static.json: JSON once its `//` lines are removed."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    document = orjson.loads("\n".join(lines))
    entries = document.get("entries", []) if isinstance(document, dict) else []
    return {
        str(e["name"]).lower().rstrip("."): PreloadEntry(
            name=str(e["name"]).lower().rstrip("."),
            include_subdomains=bool(e.get("include_subdomains", False)),
            policy=str(e.get("policy", "")),
            mode=str(e.get("mode", "")),
        )
        for e in entries
        if isinstance(e, dict) and "name" in e
    }


def in_list_file(domain: str, entries: Mapping[str, PreloadEntry]) -> PreloadStatus:
    """The domain's place in the user's Chromium list (`--preload-list`)."""
    return lookup(domain, entries, "--preload-list file")


def lookup(domain: str, entries: Mapping[str, PreloadEntry], source: str) -> PreloadStatus:
    """Chromium's rule: the most specific entry for the domain or an ancestor wins; an
    ancestor's entry counts only if it includes subdomains."""
    labels = domain.split(".")
    for start in range(len(labels)):
        name = ".".join(labels[start:])
        entry = entries.get(name)
        if entry is not None and (start == 0 or entry.include_subdomains):
            return PreloadStatus(source, entry)
    return PreloadStatus(source, None)


def lookup_with(domain: str, in_list: Callable[[str], bool], source: str) -> PreloadStatus:
    """The same question for a list that only answers "is this name covered?" (the hstspreload
    package): an entry covers its subdomains if a name below it is covered too."""
    labels = domain.split(".")
    for start in range(len(labels) - 1, -1, -1):  # from the TLD down: the widest entry first
        name = ".".join(labels[start:])
        if in_list(name) and (start == 0 or in_list(f"hsts-coverage-probe.{name}")):
            subdomains = in_list(f"hsts-coverage-probe.{name}")
            return PreloadStatus(source, PreloadEntry(name, subdomains))
    return PreloadStatus(source, None)


# -- advice ------------------------------------------------------------------------------------


def advice(
    verdict: Verdict,
    breaking: int,
    preload: PreloadStatus | None,
    apex_include_subdomains: bool,
) -> tuple[str, ...]:
    """Turn the scan's verdict and the apex's current policy into what to do next."""
    if preload is not None and preload.subdomains_preloaded and preload.entry:
        where = preload.entry.name
        if breaking:
            return (
                f"{where} is already preloaded with include_subdomains: these {breaking} "
                "host(s) are broken for users TODAY; fix them first.",
            )
        return (f"{where} is already preloaded with include_subdomains; nothing breaks.",)
    if apex_include_subdomains:
        if breaking:
            return (
                f"includeSubDomains is already on: these {breaking} host(s) are broken for "
                "every user who visited the apex; fix them now.",
            )
        return ("includeSubDomains is already on, and every host found keeps working.",)
    if verdict is Verdict.NOT_SAFE:
        return (f"Not safe to add includeSubDomains: fix these {breaking} host(s) first.",)
    if verdict is Verdict.INCONCLUSIVE:
        return ("Not proven safe yet: resolve what could not be checked, then scan again.",)
    steps = [f"  {i}. {header}  ({why})" for i, (header, why) in enumerate(ROLLOUT, 1)]
    return ("Safe to add includeSubDomains. Roll it out in stages:", *steps)


def browser_accepts_include_subdomains(effective: HeaderCheck | None) -> bool:
    """Whether the apex's first STS field, as browsers read it, turns on includeSubDomains."""
    if effective is None:
        return False
    view = effective.browser
    return view.accepted and view.include_subdomains and (view.max_age or 0) > 0
