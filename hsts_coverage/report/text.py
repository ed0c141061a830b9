"""Plain text for terminals, without rich: untrusted strings made safe, the verdict line.

Everything shown comes from untrusted places (CT names, certificate subjects, Location headers):
`clean` removes control characters and whole escape sequences before they reach a terminal.
"""

from __future__ import annotations

import re

from hsts_coverage.models import DomainSummary

# C0/C1 controls, DEL, and whole ANSI escape sequences (CSI, OSC) a hostile server could send.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|[\x00-\x1f\x7f-\x9f]"
)


def clean(value: object) -> str:
    """Printable form of an untrusted string: escape sequences and control characters removed."""
    return _CONTROL.sub("", str(value))


def verdict_text(summary: DomainSummary) -> str:
    """`example.com: NOT SAFE (3 host(s) would break)`, the one line --quiet prints."""
    line = f"{clean(summary.domain)}: {summary.verdict.value} ({clean(summary.why)})"
    return line + (" [interrupted: partial scan]" if summary.interrupted else "")
