"""Plain text for terminals, without rich: untrusted strings made safe, the verdict line.

Everything shown comes from untrusted places (CT names, certificate subjects, Location headers):
`clean` removes control characters and whole escape sequences before they reach a terminal.
"""

from __future__ import annotations

import re

from hsts_coverage.report.shapes import SummaryRecord

# C0/C1 controls, DEL, whole ANSI escape sequences (CSI, OSC) a hostile server could send, and
# the Unicode bidirectional controls (U+202A-202E, U+2066-2069, the marks U+200E, U+200F and
# U+061C), which reorder what a terminal shows (CVE-2021-42574, "Trojan Source").
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|[\x00-\x1f\x7f-\x9f]"
    "|[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def clean(value: object) -> str:
    """Printable form of an untrusted string: escape sequences and control characters removed."""
    return _CONTROL.sub("", str(value))


def verdict_text(summary: SummaryRecord) -> str:
    """`example.com: NOT SAFE (3 host(s) would break)`, the one line --quiet prints."""
    verdict = summary.get("verdict", "INCONCLUSIVE")
    line = f"{clean(summary['domain'])}: {verdict} ({clean(summary.get('why', ''))})"
    return line + (" [interrupted: partial scan]" if summary.get("interrupted") else "")
