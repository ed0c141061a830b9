"""The apex and the preload list: the facts `probe.apex` gathers, judged by `rules.preload`
(the preload requirements, and the apex's own header checked once)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from hsts_coverage.models.dns import DnsAnswer
from hsts_coverage.models.header import HeaderCheck


class CheckStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    NOT_CHECKED = "not_checked"  # an earlier requirement failed in a way that hides this one


@dataclass(frozen=True, slots=True)
class Requirement:
    code: str  # the check's area, e.g. "redirects.http"; a failure carries its own code
    title: str
    status: CheckStatus
    failures: tuple[str, ...] = ()  # hstspreload-style codes of what failed or warned
    detail: str = ""


INVALID_REDIRECT = "ERR_INVALID_REDIRECT"  # the error of a Location no browser follows


@dataclass(frozen=True, slots=True)
class Response:
    """One response on the way from a start URL (redirects are not followed by the server)."""

    url: str
    status: int | None  # None: the request failed (see `error`)
    location: str | None = None
    sts: tuple[str, ...] = ()
    error: str = ""
    cert_invalid: bool = False
    refused: bool = False


@dataclass(frozen=True, slots=True)
class ApexFacts:
    domain: str
    https_chain: tuple[Response, ...]  # from https://domain/, following redirects as given
    http_chain: tuple[Response, ...]  # from http://domain/ (empty: port 80 is closed)
    www_resolves: bool
    www_https_error: str = ""  # why https://www.domain/ failed ('' if it works or no DNS)


def ready(checks: Iterable[Requirement]) -> bool:
    """Ready for the preload list: no requirement fails (a warning does not stop it)."""
    return all(check.status is not CheckStatus.FAIL for check in checks)


@dataclass(frozen=True, slots=True)
class ApexReport:
    facts: ApexFacts
    requirements: tuple[Requirement, ...]
    preload: PreloadStatus
    # The first STS field of the apex's own HTTPS answer (the one browsers read), checked once
    # by `rules.preload.judge_apex`; None when that answer has none.
    effective: HeaderCheck | None

    @property
    def ready(self) -> bool:
        return ready(self.requirements)

    @property
    def sts(self) -> tuple[str, ...]:
        """Every STS field of the apex's own HTTPS answer to / (the first one counts)."""
        return self.facts.https_chain[0].sts


@dataclass(frozen=True, slots=True)
class PreloadEntry:
    name: str
    include_subdomains: bool
    policy: str = ""
    mode: str = "force-https"


@dataclass(frozen=True, slots=True)
class PreloadStatus:
    source: str  # which list answered, with its version
    entry: PreloadEntry | None  # the entry that applies to the domain, if any

    @property
    def preloaded(self) -> bool:
        return self.entry is not None and self.entry.mode == "force-https"

    @property
    def subdomains_preloaded(self) -> bool:
        return self.preloaded and self.entry is not None and self.entry.include_subdomains


@dataclass(frozen=True, slots=True)
class ApexCheck:
    """The apex check asked of a worker process: `domain`, and the main process's DNS answers
    for it and its www name (the worker then needs no DNS client of its own for them)."""

    domain: str
    answers: tuple[DnsAnswer, ...] = ()
