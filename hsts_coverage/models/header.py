"""A Strict-Transport-Security header as browsers and hstspreload.org read it: the data
`rules.hsts_header` produces (issue codes and the grammar are its own)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class IssueSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"  # browser view only: worth knowing, changes nothing


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    severity: IssueSeverity
    message: str


@dataclass(frozen=True, slots=True)
class BrowserView:
    accepted: bool
    max_age: int | None
    effective_max_age: int | None
    include_subdomains: bool
    preload: bool
    reason: str  # why browsers ignore the header; '' when accepted

    @property
    def protects_subdomains(self) -> bool:
        """Whether the header puts subdomains under HSTS (max-age=0 removes the policy)."""
        return self.include_subdomains and bool(self.effective_max_age)


@dataclass(frozen=True, slots=True)
class HeaderCheck:
    header: str
    browser: BrowserView
    preload_errors: tuple[Issue, ...]
    preload_warnings: tuple[Issue, ...]
    issues: tuple[Issue, ...]  # the browser view's issues (BrowserCode)
