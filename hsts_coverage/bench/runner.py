"""The rounds: each command run as a child process, measured, and checked.

`commands_for(testbed, work, scanner_args, extra_concurrency)` gives, in the order a round runs
them:

- `scanner`: the full scanner end to end (`hsts-coverage scan fleet.test --ct-url ...
  --resolver ... --ca-bundle ... --allow-cidr 127.0.0.0/8 --output WORK/scan.ndjson --quiet
  --no-progress`, then `scanner_args`): CT, DNS, HTTPS + HTTP + redirect walk, verdicts, the
  NDJSON file, the apex check;
- `baseline`: `python -m hsts_coverage.bench.baseline` on the same names (from a file, no CT);
- `scanner-cN` when `extra_concurrency` is N: the scanner again with `--concurrency N` last.

`run_rounds` runs them interleaved (A B A B ...), so that a drift of the machine's load hits
every command alike. Every run is checked, and a run that did not do the whole job carries its
`problems` (they are printed and fail the benchmark): the scanner must write one host record
per name, every host `ok`, and an uninterrupted summary, and exit 0 (SAFE) after a complete
enumeration; from crt.sh's cap of `TRUNCATION_ROWS` (10,000) CT rows on, which the lab imitates
and a fleet of 10,000 hosts reaches, it may instead report the enumeration `truncated` and exit
3 (INCONCLUSIVE), as the scanner documents. The summary's `timings` and enumeration (status,
rows, notes) are kept with the run, to show where the time went. The baseline must get 200 over
HTTPS and 301 over HTTP for every name. The children get the
environment without HSTS_COVERAGE_* variables, so that only `scanner_args` change the scan.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hsts_coverage.bench.process import Usage, measure
from hsts_coverage.bench.testbed import Testbed
from hsts_coverage.models import Verdict
from hsts_coverage.rules.summary import EXIT_CODES
from hsts_coverage.sources.crtsh import TRUNCATION_ROWS

BASELINE_CONCURRENCY = 100
_ENV_PREFIX = "HSTS_COVERAGE_"
_TAIL = 600  # characters of a failed run's stderr shown
EXIT_SAFE = EXIT_CODES[Verdict.SAFE]
EXIT_INCONCLUSIVE = EXIT_CODES[Verdict.INCONCLUSIVE]

Kind = Literal["scanner", "baseline"]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    kind: Kind
    argv: tuple[str, ...]
    output: Path | None = None  # the scanner's NDJSON report


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run of one command, and what its output says it did."""

    command: str
    round: int
    names: int  # names the command had to check
    usage: Usage
    checked: int  # host records written (scanner) or hosts with both answers (baseline)
    statuses: dict[str, int]
    problems: tuple[str, ...]
    fleet_cpu_s: dict[str, float] = field(default_factory=dict)
    scan: dict[str, Any] | None = None  # the scanner's summary timings and enumeration

    @property
    def hosts_per_s(self) -> float:
        return self.names / self.usage.wall_s


def scanner_binary() -> list[str]:
    """The venv's `hsts-coverage` console script, beside this Python; else `-m`."""
    script = Path(sys.executable).parent / "hsts-coverage"
    if script.exists():
        return [str(script)]
    found = shutil.which("hsts-coverage")
    return [found] if found else [sys.executable, "-m", "hsts_coverage"]


def commands_for(
    testbed: Testbed, work: Path, scanner_args: Sequence[str], extra_concurrency: int | None
) -> list[Command]:
    info = testbed.info
    output = work / "scan.ndjson"
    scan = [*scanner_binary(), "scan", testbed.domain, "--ct-url", info["ct_url"]]
    scan += ["--resolver", info["resolver"], "--ca-bundle", info["ca_bundle"]]
    scan += ["--allow-cidr", "127.0.0.0/8", "--output", str(output), "--quiet", "--no-progress"]
    scan += scanner_args
    baseline = [sys.executable, "-m", "hsts_coverage.bench.baseline"]
    baseline += ["--names-file", str(testbed.names_file), "--resolver", info["resolver"]]
    baseline += ["--ca-bundle", info["ca_bundle"], "--concurrency", str(BASELINE_CONCURRENCY)]
    commands = [
        Command("scanner", "scanner", tuple(scan), output),
        Command("baseline", "baseline", tuple(baseline)),
    ]
    if extra_concurrency is not None:
        argv = (*scan, "--concurrency", str(extra_concurrency))
        commands.append(Command(f"scanner-c{extra_concurrency}", "scanner", argv, output))
    return commands


def run_rounds(
    commands: Sequence[Command],
    rounds: int,
    testbed: Testbed,
    work: Path,
    progress: Callable[[Run], None],
) -> list[Run]:
    runs = []
    for number in range(1, rounds + 1):
        for command in commands:
            run = run_once(command, number, testbed, work)
            progress(run)
            runs.append(run)
    return runs


def run_once(command: Command, number: int, testbed: Testbed, work: Path) -> Run:
    stdout = work / f"{command.name}-{number}.stdout"
    stderr = work / f"{command.name}-{number}.stderr"
    if command.output is not None:
        command.output.unlink(missing_ok=True)
    before = testbed.services_cpu()
    usage = measure(command.argv, stdout=stdout, stderr=stderr, env=_child_env())
    after = testbed.services_cpu()
    check = _check(command, usage, stdout, testbed)
    problems = check.problems
    if problems:
        problems.append(f"stderr: {stderr.read_text(errors='replace')[-_TAIL:].strip()!r}")
    return Run(
        command=command.name,
        round=number,
        names=testbed.fleet.size + 1,
        usage=usage,
        checked=check.checked,
        statuses=check.statuses,
        problems=tuple(problems),
        fleet_cpu_s={name: round(after[name] - before.get(name, 0.0), 2) for name in after},
        scan=check.scan,
    )


def _check(command: Command, usage: Usage, stdout: Path, testbed: Testbed) -> Check:
    names = testbed.fleet.size + 1
    if command.kind == "baseline":
        return check_baseline(stdout, usage, names)
    assert command.output is not None
    return check_scan(command.output, usage, ScanExpectation.for_ct_rows(names, testbed.ct_rows))


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIX)}


@dataclass(frozen=True, slots=True)
class ScanExpectation:
    """What a scan of the whole fleet must report: this many host records, all ok, and one of
    these (enumeration status, exit status) outcomes."""

    names: int
    outcomes: frozenset[tuple[str, int]]

    @classmethod
    def for_ct_rows(cls, names: int, ct_rows: int) -> ScanExpectation:
        complete = ("complete", EXIT_SAFE)
        if ct_rows >= TRUNCATION_ROWS:
            # A capped answer: the scanner may complete the enumeration another way.
            return cls(names, frozenset({complete, ("truncated", EXIT_INCONCLUSIVE)}))
        return cls(names, frozenset({complete}))


@dataclass(frozen=True, slots=True)
class Check:
    """What a run's output says it did."""

    checked: int
    statuses: dict[str, int]
    problems: list[str]
    scan: dict[str, Any] | None = None  # the scanner's own account: timings, enumeration


def check_scan(output: Path, usage: Usage, expected: ScanExpectation) -> Check:
    """The check of a scanner run that should find every host ok."""
    if not output.exists():
        return Check(0, {}, [f"exit status {usage.exit_code} and no report at {output}"])
    records = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    hosts = [record for record in records if record.get("type") == "host"]
    statuses = dict(Counter(str(host.get("status")) for host in hosts))
    summaries = [record for record in records if record.get("type") == "summary"]
    if len(summaries) != 1:
        return Check(len(hosts), statuses, [f"{len(summaries)} summary records, not 1"])
    summary = summaries[0]
    problems = _scan_problems(usage, len(hosts), statuses, summary, expected)
    return Check(len(hosts), statuses, problems, _scan_account(summary))


def _scan_problems(
    usage: Usage,
    checked: int,
    statuses: dict[str, int],
    summary: dict[str, Any],
    expected: ScanExpectation,
) -> list[str]:
    problems = []
    if checked != expected.names:
        problems.append(f"{checked} host records for {expected.names} names")
    if set(statuses) - {"ok"}:
        problems.append(f"hosts not ok: {statuses}")
    if summary.get("interrupted"):
        problems.append("the scan was interrupted")
    enumeration = summary.get("enumeration") or {}
    outcome = (enumeration.get("status"), usage.exit_code)
    if outcome not in expected.outcomes:
        wanted = " or ".join(f"{s} and exit {c}" for s, c in sorted(expected.outcomes))
        error = enumeration.get("error")
        problems.append(
            f"CT enumeration {outcome[0]} ({error}) and exit {outcome[1]}: not {wanted}"
        )
    return problems


def _scan_account(summary: dict[str, Any]) -> dict[str, Any]:
    """The parts of the summary that say where a scan's time went."""
    enumeration = summary.get("enumeration") or {}
    return {
        "timings": summary.get("timings"),
        "enumeration": {key: enumeration.get(key) for key in ("status", "rows", "notes")},
    }


def check_baseline(stdout: Path, usage: Usage, names: int) -> Check:
    """The check of a baseline run: 200 over HTTPS and 301 over HTTP for every name."""
    lines = stdout.read_text().splitlines()
    try:
        tally = json.loads(lines[-1])
    except (IndexError, ValueError):
        return Check(0, {}, [f"exit status {usage.exit_code} and no tally on stdout"])
    statuses: dict[str, int] = tally["statuses"]
    problems = []
    if usage.exit_code != 0:
        problems.append(f"exit status {usage.exit_code}")
    if tally["hosts"] != names or tally["done"] != names:
        problems.append(f"{tally['done']} of {tally['hosts']} hosts done, for {names} names")
    if tally["errors"]:
        problems.append(f"{tally['errors']} errors: {tally['error_kinds']}")
    if statuses != {"http 301": names, "https 200": names}:
        problems.append(f"statuses {statuses}")
    return Check(int(tally["done"]), statuses, problems)
