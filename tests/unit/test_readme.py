"""README documents what the code does: every reason, every scan option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hsts_coverage.cli.scan import scan_command
from hsts_coverage.reasons import Reason

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_is_in_the_readme_table(reason: Reason) -> None:
    row = (
        f"| `{reason.value}` | {reason.severity.value} | {reason.summary} | "
        f"`{reason.chrome_error}` | `{reason.firefox_error}` | {reason.fix} |"
    )
    assert row in README


def test_every_scan_option_is_documented() -> None:
    import inspect

    options = [p for p in inspect.signature(scan_command).parameters if p != "domains"]
    documented = set(re.findall(r"`(--[a-z-]+)", README))
    flag = {"output_format": "--format", "names_file": "--names-file"}
    for option in options:
        assert flag.get(option, "--" + option.replace("_", "-")) in documented, option
