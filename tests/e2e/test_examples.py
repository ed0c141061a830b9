"""The deployment examples in examples/: each parses, has the structure its platform needs, passes
its platform's own checker where this machine has one, and runs where it can run here.

- cron: the crontab's lines are well-formed; the wrapper passes `sh -n`, `bash -n` and shellcheck;
  its logic (notify only when `diff` exits 1, mail / sendmail / webhook, retention, interrupted
  scans) runs against a stub scanner; and it runs against the lab.
- systemd: `systemd-analyze verify` on both units (with ExecStart pointed at the wrapper in this
  tree), `systemd-analyze calendar` on the timer, and a structural parse with configparser.
- GitHub Actions: the workflow parses, runs hsts-coverage on pull requests, and its step scripts,
  run as GitHub runs them (bash -e) against the lab, fail on NOT SAFE and pass on SAFE.
- Kubernetes: every document parses; the CronJobs are well-formed (Indexed Job whose completions
  match SHARDS, JOB_COMPLETION_INDEX -> --shard, a merge, every reference resolves); their
  scripts pass `sh -n` and shellcheck and run against the lab.

The Kubernetes jobs also run here: every index of the sharded scan, then the merge and diff,
with /reports in a temporary directory. Under CI (`CI` set) a missing checker (shellcheck)
fails instead of skipping.
"""

from __future__ import annotations

import configparser
import functools
import http.server
import json
import os
import re
import resource
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
import yaml
from junitparser import JUnitXml

from tests.helpers import TIMEOUT, LabInfo, ct_searches, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WRAPPER = EXAMPLES / "cron" / "hsts-coverage-nightly.sh"
CRONTAB = EXAMPLES / "cron" / "crontab"
SERVICE = EXAMPLES / "systemd" / "hsts-coverage.service"
TIMER = EXAMPLES / "systemd" / "hsts-coverage.timer"
WORKFLOW = EXAMPLES / "github-actions" / "hsts-coverage.yml"
CRONJOB = EXAMPLES / "kubernetes" / "cronjob.yaml"
INSTALLED_WRAPPER = "/usr/local/bin/hsts-coverage-nightly.sh"


def tool(name: str) -> str:
    """A checker's path; skips without it (fails under CI, which installs it)."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is not installed (apt-get install -y {name})"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def shellcheck(path: Path, shell: str = "sh") -> None:
    done = subprocess.run([tool("shellcheck"), "-s", shell, str(path)], capture_output=True)
    assert done.returncode == 0, done.stdout.decode()


def syntax(shell: str, path: Path) -> None:
    done = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- cron: the crontab and the wrapper's syntax ----------------------------------------------------

CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def cron_field_ok(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if not match:
            return False
        numbers = [int(n) for n in match.group(2, 3) if n is not None]
        if any(not low <= n <= high for n in numbers) or match.group(4) == "0":
            return False
    return True


def test_the_crontab_is_well_formed() -> None:
    jobs, env = [], {}
    for line in CRONTAB.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if assignment := re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line):
            env[assignment.group(1)] = assignment.group(2)
            continue
        fields = line.split(maxsplit=5)
        assert len(fields) == 6, line
        assert all(cron_field_ok(f, *r) for f, r in zip(fields, CRON_FIELDS, strict=False)), line
        jobs.append(fields[5])
    assert len(jobs) == 1
    assert INSTALLED_WRAPPER in jobs[0]
    assert "REPORT_DIR" in env
    assert all(k in {"SHELL", "PATH", "MAILTO", "REPORT_DIR", "KEEP_DAYS"} or
               k.startswith("HSTS_COVERAGE_") for k in env)  # fmt: skip
    assert {k for k in env if k.startswith("HSTS_COVERAGE_")} <= scan_option_variables()


@functools.cache
def scan_option_variables() -> set[str]:
    """Every HSTS_COVERAGE_* variable `hsts-coverage scan` reads, from its own source."""
    cli = Path(__file__).resolve().parents[2] / "hsts_coverage" / "cli"
    source = "".join(path.read_text() for path in sorted(cli.glob("*.py")))
    return {f"HSTS_COVERAGE_{name}" for name in re.findall(r'envvar=f"\{ENV\}(\w+)"', source)}


def test_the_wrapper_is_executable_posix_shell() -> None:
    assert WRAPPER.stat().st_mode & stat.S_IXUSR
    assert WRAPPER.read_text().startswith("#!/bin/sh\n")
    syntax("sh", WRAPPER)
    syntax("bash", WRAPPER)
    if shutil.which("dash"):
        syntax("dash", WRAPPER)


def test_the_wrapper_is_shellcheck_clean() -> None:
    shellcheck(WRAPPER)


# -- cron: the wrapper's logic, with a stub scanner ------------------------------------------------

STUB = """#!/bin/sh
# A stand-in for hsts-coverage: logs its arguments; scan writes --output; diff prints a diff.
echo "$*" >>"$STUB_LOG"
case $1 in
  scan)
    while [ "$#" -gt 0 ]; do
      if [ "$1" = --output ]; then out=$2; fi
      shift
    done
    case ${STUB_SCAN_EXIT:-0} in 2 | 5) ;; *) echo '{"type":"scan"}' >"$out" ;; esac
    exit "${STUB_SCAN_EXIT:-0}" ;;
  diff)
    if [ "$3" = json ]; then echo '{"newly_breaking":["expired.example.com"]}';
    else echo "newly breaking: expired.example.com"; fi
    exit "${STUB_DIFF_EXIT:-0}" ;;
esac
exit 2
"""
FAKE_MAIL = '#!/bin/sh\n{ echo "$0 $*"; cat; } >>"$MAIL_LOG"\n'
BASE_TOOLS = ("sh", "date", "mkdir", "mktemp", "rm", "cat", "curl", "env")


class Wrapper:
    """The wrapper in a sandbox: its own PATH (so which of mail/sendmail exists is ours to say),
    a report directory, and logs of what the scanner and the mailers were asked."""

    def __init__(self, tmp_path: Path, scanner: str | None = None) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.reports = tmp_path / "reports"
        self.scanner_log = tmp_path / "scanner.log"
        self.mail_log = tmp_path / "mail.log"
        for name in BASE_TOOLS:
            if found := shutil.which(name):
                (self.bin / name).symlink_to(found)
        self.script("hsts-coverage", scanner or STUB)

    def script(self, name: str, text: str) -> None:
        path = self.bin / name
        path.write_text(text)
        path.chmod(0o755)

    def run(
        self, *domains: str, max_file_bytes: int = 0, **env: str
    ) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": str(self.bin),
            "REPORT_DIR": str(self.reports),
            "STUB_LOG": str(self.scanner_log),
            "MAIL_LOG": str(self.mail_log),
            "HOME": str(self.reports.parent),
            **env,
        }
        command = [str(WRAPPER), *(domains or ("example.com",))]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
            preexec_fn=(lambda: limit_file_size(max_file_bytes)) if max_file_bytes else None,
        )

    def seed(self, *days: str) -> None:
        self.reports.mkdir(exist_ok=True)
        for day in days:
            (self.reports / f"{day}.ndjson").write_text('{"type":"scan"}\n')

    def listing(self) -> list[str]:
        return sorted(p.name for p in self.reports.iterdir())

    def calls(self) -> list[str]:
        return self.scanner_log.read_text().splitlines() if self.scanner_log.exists() else []


def unmeasured(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without coverage's: under a file-size limit its data file would be cut short."""
    return {k: v for k, v in env.items() if k != "COVERAGE_PROCESS_CONFIG"}


def limit_file_size(limit: int) -> None:
    """Writes past `limit` bytes fail (EFBIG), as they would on a full disk."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def today() -> str:
    """The name the wrapper gives today's report (`date +%F`)."""
    return f"{date.today():%Y-%m-%d}.ndjson"


@pytest.fixture
def wrapper(tmp_path: Path) -> Wrapper:
    return Wrapper(tmp_path)


def test_the_first_report_is_kept_and_nothing_is_said(wrapper: Wrapper) -> None:
    done = wrapper.run("example.com", "example.org")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert wrapper.listing() == [today()]
    scan = wrapper.calls()[0]
    assert scan == f"scan example.com example.org --output {wrapper.reports / today()} --quiet"
    assert len(wrapper.calls()) == 1  # no previous report: no diff


def test_nothing_newly_broken_is_silent(wrapper: Wrapper) -> None:
    wrapper.seed("2000-01-01")
    done = wrapper.run(STUB_DIFF_EXIT="0", MAIL_TO="ops@example.com")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    previous, new = wrapper.reports / "2000-01-01.ndjson", wrapper.reports / today()
    assert wrapper.calls()[1] == f"diff --format table {previous} {new}"
    assert not wrapper.mail_log.exists()


def test_newly_broken_without_a_channel_prints_the_diff(wrapper: Wrapper) -> None:
    wrapper.seed("2000-01-01")
    done = wrapper.run(STUB_DIFF_EXIT="1")
    assert (done.returncode, done.stdout) == (1, "newly breaking: expired.example.com\n")


@pytest.mark.parametrize("mailer", ["mail", "sendmail"])
def test_newly_broken_is_mailed(wrapper: Wrapper, mailer: str) -> None:
    wrapper.seed("2000-01-01")
    wrapper.script(mailer, FAKE_MAIL)
    done = wrapper.run(STUB_DIFF_EXIT="1", MAIL_TO="ops@example.com")
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")
    mail = wrapper.mail_log.read_text()
    subject = "hsts-coverage: newly breaking under HSTS: example.com"
    if mailer == "mail":
        assert mail.startswith(f"{wrapper.bin}/mail -s {subject} ops@example.com\n")
    else:
        assert mail.startswith(f"{wrapper.bin}/sendmail -i -- ops@example.com\n")
        assert f"To: ops@example.com\nSubject: {subject}\n\n" in mail
    assert mail.endswith("newly breaking: expired.example.com\n")


def test_no_mailer_is_a_failed_notification(wrapper: Wrapper) -> None:
    wrapper.seed("2000-01-01")
    done = wrapper.run(STUB_DIFF_EXIT="1", MAIL_TO="ops@example.com")
    assert done.returncode == 4
    assert "neither mail nor sendmail" in done.stderr
    assert done.stdout == "newly breaking: expired.example.com\n"  # so cron mails it anyway


class Hook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver: keeps what was POSTed and answers with `answer`."""

    received: ClassVar[list[tuple[str, bytes]]] = []
    answer: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append((self.headers["Content-Type"], body))
        self.send_response(Hook.answer)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Hook.received, Hook.answer = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_newly_broken_is_posted_as_json(wrapper: Wrapper, webhook: str) -> None:
    tool("curl")
    wrapper.seed("2000-01-01")
    done = wrapper.run(STUB_DIFF_EXIT="1", WEBHOOK_URL=webhook)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")
    [(content_type, body)] = Hook.received
    assert content_type == "application/json"
    assert json.loads(body) == {"newly_breaking": ["expired.example.com"]}


def test_a_webhook_that_fails_is_a_failed_notification(wrapper: Wrapper, webhook: str) -> None:
    tool("curl")
    Hook.answer = 500
    wrapper.seed("2000-01-01")
    done = wrapper.run(STUB_DIFF_EXIT="1", WEBHOOK_URL=webhook)
    assert done.returncode == 4
    assert "could not send the notification" in done.stderr


def test_only_the_newest_reports_are_kept(wrapper: Wrapper) -> None:
    wrapper.seed("2000-01-01", "2000-01-02", "2000-01-03", "2000-01-04")
    (wrapper.reports / "notes.txt").write_text("mine\n")
    done = wrapper.run(KEEP_DAYS="3")
    assert done.returncode == 0, done.stderr
    assert wrapper.listing() == sorted(
        ["2000-01-03.ndjson", "2000-01-04.ndjson", today(), "notes.txt"]
    )
    assert wrapper.calls()[1].startswith(f"diff --format table {wrapper.reports}/2000-01-04.ndjson")


@pytest.mark.parametrize(
    ("code", "kept"), [(1, True), (3, True), (2, False), (5, False), (130, False)]
)
def test_a_scan_that_fails_stops_the_run(wrapper: Wrapper, code: int, kept: bool) -> None:
    wrapper.seed("2000-01-01")
    done = wrapper.run(STUB_SCAN_EXIT=str(code))
    assert done.returncode == (0 if kept else code)
    assert (today() in wrapper.listing()) is kept
    assert any(c.startswith("diff") for c in wrapper.calls()) is kept


@pytest.mark.parametrize("keep", ["1", "0", "x", "-3"])
def test_a_bad_keep_days_is_refused(wrapper: Wrapper, keep: str) -> None:
    done = wrapper.run(KEEP_DAYS=keep)
    assert done.returncode == 2
    assert "KEEP_DAYS" in done.stderr
    assert wrapper.calls() == []


def test_the_domain_may_come_from_the_environment(wrapper: Wrapper) -> None:
    command = [str(WRAPPER)]
    env = {"PATH": str(wrapper.bin), "REPORT_DIR": str(wrapper.reports)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert "usage:" in done.stderr
    assert wrapper.run(DOMAIN="example.net").returncode == 0  # arguments win; DOMAIN is the default


# -- cron: the wrapper against the lab -------------------------------------------------------------

SCANNER = f'#!/bin/sh\nexec "{sys.executable}" -m hsts_coverage "$@"\n'


def lab_environment(lab: LabInfo, names: Path) -> dict[str, str]:
    return {
        "HSTS_COVERAGE_RESOLVER": lab.resolver,
        "HSTS_COVERAGE_CA_BUNDLE": lab.ca_bundle,
        "HSTS_COVERAGE_ALLOW_CIDR": "127.0.0.0/8",
        "HSTS_COVERAGE_TIMEOUT": TIMEOUT,
        "HSTS_COVERAGE_NO_CT": "1",
        "HSTS_COVERAGE_NO_GUESS": "1",
        "HSTS_COVERAGE_NAMES_FILE": str(names),
    }


def names(tmp_path: Path, lab: LabInfo, *labels: str) -> Path:
    path = tmp_path / f"names-{len(labels)}.txt"
    path.write_text("".join(f"{label}.{lab.domain}\n" for label in labels))
    return path


def test_the_wrapper_scans_the_lab(lab: LabInfo, tmp_path: Path) -> None:
    wrapper = Wrapper(tmp_path, SCANNER)
    done = wrapper.run(lab.domain, **lab_environment(lab, names(tmp_path, lab, "www")))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    records = [orjson.loads(line) for line in (wrapper.reports / today()).read_bytes().splitlines()]
    assert records[-1]["verdict"] == "SAFE"


def test_the_wrapper_notifies_when_a_lab_host_newly_breaks(
    lab: LabInfo, tmp_path: Path, webhook: str
) -> None:
    wrapper = Wrapper(tmp_path, SCANNER)
    good = names(tmp_path, lab, "www")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(good)]
    wrapper.reports.mkdir()
    assert (
        hsts_coverage([*args, "-o", str(wrapper.reports / "2000-01-01.ndjson")], tmp_path).code == 0
    )
    broken = names(tmp_path, lab, "www", "expired")
    done = wrapper.run(lab.domain, WEBHOOK_URL=webhook, **lab_environment(lab, broken))
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    [(_, body)] = Hook.received
    assert f"expired.{lab.domain}" in body.decode()
    (wrapper.reports / today()).rename(wrapper.reports / "2000-01-02.ndjson")  # a day later
    again = wrapper.run(lab.domain, WEBHOOK_URL=webhook, **lab_environment(lab, broken))
    assert (again.returncode, again.stdout) == (0, ""), again.stderr  # nothing *newly* breaks
    assert len(Hook.received) == 1


def test_a_scan_that_fails_is_a_failed_run_not_a_report(lab: LabInfo, tmp_path: Path) -> None:
    wrapper = Wrapper(tmp_path, SCANNER)
    wrapper.seed("2000-01-01")
    broken = names(tmp_path, lab, "www", "expired", "self-signed", "wrong-name")
    done = wrapper.run(lab.domain, max_file_bytes=3000, **lab_environment(lab, broken))
    assert done.returncode == 5, done.stderr
    [partial] = [name for name in wrapper.listing() if name.startswith(".")]
    assert partial.startswith(f".{today()}.")  # kept aside, never under today's name
    assert [name for name in wrapper.listing() if name != partial] == ["2000-01-01.ndjson"]
    assert "the scan failed (exit code 5)" in done.stderr
    assert "Traceback" not in done.stderr


# -- systemd ---------------------------------------------------------------------------------------


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_the_units_have_the_expected_structure() -> None:
    service, timer = unit(SERVICE), unit(TIMER)
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].split()[0] == INSTALLED_WRAPPER
    assert "StateDirectory" in service["Service"]
    assert {"OnCalendar", "Persistent"} <= set(timer["Timer"])
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_a_failed_scan_fails_the_unit() -> None:
    """The unit runs the wrapper, which exits 5 when the scan failed (tested above); systemd
    fails a oneshot unit on any exit status but 0, unless told otherwise: it is not."""
    service = unit(SERVICE)["Service"]
    assert not service["ExecStart"].startswith("-")  # "-" would ignore a failure
    assert "5" not in service.get("SuccessExitStatus", "").split()
    assert "5" not in service.get("RestartPreventExitStatus", "").split()


def verify(tmp_path: Path, service_text: str) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` on both units, ExecStart pointed at the wrapper in this tree."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the structural test still ran)")
    (tmp_path / SERVICE.name).write_text(service_text.replace(INSTALLED_WRAPPER, str(WRAPPER)))
    shutil.copy(TIMER, tmp_path / TIMER.name)
    units = [str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)]
    return subprocess.run([analyze, "verify", *units], capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    done = verify(tmp_path, SERVICE.read_text())
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "hsts-coverage" in line] == []


def test_systemd_analyze_would_see_a_mistake(tmp_path: Path) -> None:
    """The negative twin: a misspelt directive is reported, so a clean verify means something."""
    done = verify(tmp_path, SERVICE.read_text().replace("ProtectHome=", "ProtectHomes="))
    assert "Unknown key 'ProtectHomes'" in done.stderr


def test_the_timer_calendar_parses() -> None:
    analyze = shutil.which("systemd-analyze") or pytest.skip("systemd-analyze is not installed")
    when = unit(TIMER)["Timer"]["OnCalendar"]
    done = subprocess.run([analyze, "calendar", when], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Next elapse" in done.stdout


# -- GitHub Actions --------------------------------------------------------------------------------


def workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def steps() -> dict[str, dict[str, Any]]:
    [job] = workflow()["jobs"].values()
    return {step.get("name", step.get("uses", "")): step for step in job["steps"]}


def test_the_workflow_runs_on_pull_requests() -> None:
    document = workflow()
    triggers = document["on"] if "on" in document else document[True]  # YAML 1.1: `on` is true
    assert "pull_request" in triggers
    assert document["permissions"] == {"contents": "read"}
    [job] = document["jobs"].values()
    assert job["runs-on"]
    assert job["defaults"]["run"]["shell"] == "bash"
    assert "hsts-coverage scan" in steps()["Scan"]["run"]
    assert "exit 1" in steps()["Verdict"]["run"]
    publish = steps()["Publish the JUnit report"]
    assert publish["uses"].startswith("mikepenz/action-junit-report@")
    assert publish["with"]["report_paths"] in steps()["Scan"]["run"]
    assert "--junit " + publish["with"]["report_paths"] in steps()["Scan"]["run"]
    assert job["permissions"] == {"contents": "read", "checks": "write"}
    assert publish["with"]["report_paths"] in steps()["Keep the report"]["with"]["path"]
    env = {k for k in job["env"] if k.startswith("HSTS_COVERAGE_")}
    assert env <= scan_option_variables()


@pytest.mark.parametrize("name", ["Scan", "Verdict"])
def test_the_workflow_scripts_are_clean_bash(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.sh"
    path.write_text(steps()[name]["run"])
    syntax("bash", path)
    shellcheck(path, "bash")


def run_step(
    name: str, tmp_path: Path, env: Mapping[str, str], *, scan_exit: str = ""
) -> subprocess.CompletedProcess[str]:
    """A step's script as GitHub runs it: `bash -e` in the workspace, with its outputs files."""
    script = tmp_path / f"{name}.sh"
    script.write_text(steps()[name]["run"])
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")},
        **{k: str(v) for k, v in workflow()["jobs"]["hsts-coverage"]["env"].items()},
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "SCAN_EXIT": scan_exit,
        **env,
    }
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
    return subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=120
    )


@pytest.mark.parametrize(("labels", "expected"), [(("www",), 0), (("www", "expired"), 1)])
def test_the_workflow_fails_when_the_lab_is_not_safe(
    lab: LabInfo, tmp_path: Path, labels: tuple[str, ...], expected: int
) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "hsts-coverage").write_text(SCANNER)
    (tmp_path / "bin" / "hsts-coverage").chmod(0o755)
    env = {"DOMAINS": lab.domain, **lab_environment(lab, names(tmp_path, lab, *labels))}
    scan = run_step("Scan", tmp_path, env)
    assert scan.returncode == 0, scan.stderr
    assert (tmp_path / "output").read_text() == f"exit-code={expected}\n"
    assert "SAFE" in (tmp_path / "summary.md").read_text()
    published = JUnitXml.fromfile(
        str(tmp_path / "hsts-coverage.xml")
    )  # what the publish step reads
    assert sum(suite.failures for suite in published) == expected
    verdict = run_step("Verdict", tmp_path, env, scan_exit=str(expected))
    assert verdict.returncode == expected, verdict.stdout
    if expected:
        assert "::error title=HSTS coverage::NOT SAFE" in verdict.stdout


def test_the_workflow_fails_when_the_scan_fails(lab: LabInfo, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "hsts-coverage").write_text(SCANNER)
    (tmp_path / "bin" / "hsts-coverage").chmod(0o755)
    env = {"DOMAINS": lab.domain, **lab_environment(lab, names(tmp_path, lab, "www", "expired"))}
    script = tmp_path / "Scan.sh"
    script.write_text(steps()["Scan"]["run"])
    scan = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**unmeasured(os.environ), **env, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
             "GITHUB_OUTPUT": str(tmp_path / "output"),
             "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
        preexec_fn=lambda: limit_file_size(2500),
    )  # fmt: skip
    assert scan.returncode == 5, scan.stderr
    assert "::error title=HSTS coverage::the scan failed (exit code 5)" in scan.stdout
    assert not (tmp_path / "hsts-coverage.ndjson").exists()


# -- Kubernetes ------------------------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": d for d in yaml.safe_load_all(CRONJOB.read_text())
    }


def job_of(cronjob: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]
    return spec


def pod_of(cronjob: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job_of(cronjob)["template"]["spec"]
    return spec


def cronjobs() -> list[dict[str, Any]]:
    return [d for key, d in manifests().items() if key.startswith("CronJob/")]


def test_the_manifests_are_the_expected_kinds() -> None:
    assert sorted(manifests()) == [
        "ConfigMap/hsts-coverage",
        "CronJob/hsts-coverage-enumerate",
        "CronJob/hsts-coverage-merge",
        "CronJob/hsts-coverage-scan",
        "PersistentVolumeClaim/hsts-coverage-reports",
    ]
    for document in manifests().values():
        assert document["apiVersion"] == ("batch/v1" if document["kind"] == "CronJob" else "v1")


@pytest.mark.parametrize("index", [0, 1, 2])
def test_each_cronjob_is_well_formed(index: int) -> None:
    cronjob = cronjobs()[index]
    fields = cronjob["spec"]["schedule"].split()
    assert len(fields) == 5
    assert all(cron_field_ok(f, *r) for f, r in zip(fields, CRON_FIELDS, strict=True))
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = pod_of(cronjob)
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy requires it
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes
    for rule in job_of(cronjob)["podFailurePolicy"]["rules"]:
        assert rule["onExitCodes"]["containerName"] == container["name"]
    references = {f"ConfigMap/{r['configMapRef']['name']}" for r in container["envFrom"]}
    references |= {
        f"PersistentVolumeClaim/{v['persistentVolumeClaim']['claimName']}"
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert references <= set(manifests())


def test_the_scan_is_an_indexed_job_with_one_shard_per_index() -> None:
    shards = int(manifests()["ConfigMap/hsts-coverage"]["data"]["SHARDS"])
    job = job_of(manifests()["CronJob/hsts-coverage-scan"])
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] == shards
    script = container_script(manifests()["CronJob/hsts-coverage-scan"])
    assert '--shard "$((JOB_COMPLETION_INDEX + 1))/$SHARDS"' in script
    assert "shard-$JOB_COMPLETION_INDEX.ndjson" in script
    assert 'hsts-coverage scan --names-from "$names"' in script  # CT is not asked per shard
    enumerate = container_script(manifests()["CronJob/hsts-coverage-enumerate"])
    assert "hsts-coverage enumerate $DOMAINS" in enumerate
    assert "/reports/names/$(date -u +%F).ndjson" in enumerate
    merge = container_script(manifests()["CronJob/hsts-coverage-merge"])
    assert "hsts-coverage merge" in merge
    assert "hsts-coverage diff" in merge


def container_script(cronjob: dict[str, Any]) -> str:
    [container] = pod_of(cronjob)["containers"]
    assert container["command"] == ["/bin/sh", "-c"]
    script: str = container["args"][0]
    return script


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_cronjob_scripts_are_clean_sh(index: int, tmp_path: Path) -> None:
    path = tmp_path / "script.sh"
    path.write_text(container_script(cronjobs()[index]))
    syntax("sh", path)
    shellcheck(path)


def kubernetes_jobs(
    lab: LabInfo, tmp_path: Path
) -> tuple[dict[str, str], dict[str, str], Path, dict[str, str]]:
    """The example's config, the pods' environment pointed at the lab, the reports folder, and
    each CronJob's container script by its short name, with /reports under tmp."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "hsts-coverage").write_text(SCANNER)
    (tmp_path / "bin" / "hsts-coverage").chmod(0o755)
    reports = tmp_path / "reports"
    config = manifests()["ConfigMap/hsts-coverage"]["data"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")},
        **config,
        **lab_options_environment(lab),
        "DOMAINS": lab.domain,
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
    }
    scripts = {
        name.removeprefix("CronJob/hsts-coverage-"): container_script(c).replace(
            "/reports", str(reports)
        )
        for name, c in manifests().items()
        if name.startswith("CronJob/")
    }
    return config, env, reports, scripts


def test_the_sharded_jobs_run_against_the_lab(lab: LabInfo, tmp_path: Path) -> None:
    """Every index of the scan Job, then the merge Job, run here with /reports in tmp."""
    config, env, reports, scripts = kubernetes_jobs(lab, tmp_path)
    env["HSTS_COVERAGE_USER_AGENT"] = agent = "hsts-coverage-tests/kubernetes"
    merge, scan = scripts["merge"], scripts["scan"]
    orphan = subprocess.run(
        ["sh", "-c", scan], env={**env, "JOB_COMPLETION_INDEX": "0"}, capture_output=True
    )
    assert orphan.returncode == 4  # no name list yet: the shard fails instead of scanning nothing
    done = subprocess.run(["sh", "-c", scripts["enumerate"]], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    for index in range(int(config["SHARDS"])):
        shard = {**env, "JOB_COMPLETION_INDEX": str(index)}
        done = subprocess.run(["sh", "-c", scan], env=shard, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    done = subprocess.run(["sh", "-c", merge], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [report] = list(reports.glob("????-??-??.ndjson"))
    records = [orjson.loads(line) for line in report.read_bytes().splitlines()]
    full = hsts_coverage(["scan", lab.domain, *lab_options(lab)], tmp_path)
    assert sorted(r["host"] for r in records if r["type"] == "host") == sorted(full.hosts())
    assert ct_searches(lab, agent) == [lab.domain]  # once a night, not once per shard
    assert list((reports / "names").iterdir()) == []  # the night's list is cleaned up


def test_a_shard_that_fails_fails_its_index_and_the_merge(lab: LabInfo, tmp_path: Path) -> None:
    config, env, reports, scripts = kubernetes_jobs(lab, tmp_path)
    merge, scan = scripts["merge"], scripts["scan"]
    done = subprocess.run(["sh", "-c", scripts["enumerate"]], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    for index in range(int(config["SHARDS"])):
        shard = {**env, "JOB_COMPLETION_INDEX": str(index)}
        limit = (lambda: limit_file_size(2500)) if index == 1 else None  # shard 2 hits a full disk
        if index == 1:
            shard = unmeasured(shard)
        done = subprocess.run(
            ["sh", "-c", scan], env=shard, capture_output=True, text=True, preexec_fn=limit
        )
        assert done.returncode == (5 if index == 1 else 0), done.stderr
    done = subprocess.run(["sh", "-c", merge], env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert "not merging a partial scan" in done.stderr
    assert not list(reports.glob("????-??-??.ndjson"))


def lab_options_environment(lab: LabInfo) -> dict[str, str]:
    return {
        "HSTS_COVERAGE_CT_URL": lab.ct_url,
        "HSTS_COVERAGE_RESOLVER": lab.resolver,
        "HSTS_COVERAGE_CA_BUNDLE": lab.ca_bundle,
        "HSTS_COVERAGE_ALLOW_CIDR": "127.0.0.0/8",
        "HSTS_COVERAGE_TIMEOUT": TIMEOUT,
    }
