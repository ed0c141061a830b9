"""The fan-out of a scan's events to every output asked for, and atomic report writes."""

from __future__ import annotations

import fcntl
import os
import stat
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

import orjson

from hsts_coverage.cli.app import PROG, usage_error
from hsts_coverage.config import (
    OutputFormat,
    ScanConfig,
)
from hsts_coverage.models import (
    DomainSummary,
    HostResult,
)
from hsts_coverage.pipeline import (
    DomainStarted,
    Event,
    ScanStarted,
)
from hsts_coverage.report.ndjson import NdjsonWriter
from hsts_coverage.report.reader import Report
from hsts_coverage.report.records import (
    host_record,
    scan_record,
    summary_record,
)
from hsts_coverage.report.shapes import Record
from hsts_coverage.report.text import verdict_text

if TYPE_CHECKING:
    from hsts_coverage.report.metrics import ScanMetrics
    from hsts_coverage.report.table import ProgressView, TableReport


def write_html(path: Path, records: list[Record]) -> None:
    from hsts_coverage.report.html import render_html

    with open_report(path, append=False) as stream:
        stream.write(render_html(records).encode("utf-8"))


def print_json(document: object) -> None:
    sys.stdout.buffer.write(
        orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    )
    sys.stdout.buffer.flush()


class Outputs:
    """Sends each scan event to every output the user asked for."""

    def __init__(self, config: ScanConfig, baseline: Report | None = None) -> None:
        self._config = config
        self._baseline = baseline  # the earlier report of --baseline, read by the CLI
        self._stdout_closed = False
        self._stack = ExitStack()
        self._table = table_report() if self._stdout_format is OutputFormat.TABLE else None
        self._ndjson: list[NdjsonWriter] = []
        # Every record, only when something needs them all at the end (JSON, --baseline).
        wanted = (
            baseline is not None
            or config.html is not None
            or config.junit is not None
            or self._stdout_format is OutputFormat.JSON
        )
        self._records: list[Record] | None = [] if wanted else None
        self._now: datetime | None = None
        self._progress = _progress_view(config.progress)
        self._metrics: ScanMetrics | None = None
        self._scan_id = uuid.uuid4().hex

    def __enter__(self) -> Outputs:
        if self._config.output is not None:
            report = open_report(self._config.output, append=self._config.append)
            self._ndjson.append(NdjsonWriter(self._stack.enter_context(report)))
        if self._stdout_format is OutputFormat.NDJSON and self._config.output != Path("-"):
            self._ndjson.append(NdjsonWriter(sys.stdout.buffer))
        self._stack.callback(self._progress.end_domain)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        # The exception goes on to each output: a failed run must not rename its partial report
        # into place as if it had finished.
        self._stack.__exit__(*exc_info)

    @property
    def _stdout_format(self) -> OutputFormat | None:
        if self._config.quiet or self._config.output == Path("-") or self._stdout_closed:
            return None
        return self._config.output_format

    def handle(self, event: Event) -> DomainSummary | None:
        try:
            return self._handle(event)
        except BrokenPipeError:
            # stdout was closed (`| head`): the scan and its report file go on without it.
            _discard_stdout()
            self._stdout_closed = True
            return event if isinstance(event, DomainSummary) else None

    def _handle(self, event: Event) -> DomainSummary | None:
        if isinstance(event, ScanStarted):
            self._now = event.started_at
            if self._config.metrics is not None:
                from hsts_coverage.report.metrics import ScanMetrics

                self._metrics = ScanMetrics(event.started_at)
            self._emit(scan_record(self._config, event.started_at, open_files=event.open_files))
        elif isinstance(event, DomainStarted):
            self._progress.start_domain(event.enumeration.domain, event.hosts)
        elif isinstance(event, HostResult):
            self._host(event)
        else:
            self._summary(event)
            return event
        return None

    def _host(self, result: HostResult) -> None:
        assert self._now is not None
        record = host_record(result, self._now)
        self._emit(record)
        if self._table is not None:
            self._table.add(record)
        self._progress.advance()

    def _summary(self, summary: DomainSummary) -> None:
        self._progress.end_domain()
        record = summary_record(summary)
        self._emit(record)
        if self._config.quiet:
            print(verdict_text(record), flush=True)
        elif self._stdout_format is OutputFormat.TABLE and self._table is not None:
            self._table.render(record)

    def _emit(self, record: Record) -> None:
        record["scan_id"] = self._scan_id  # groups this run's records in an --append log
        for writer in self._ndjson:
            writer.write(record)
        if self._metrics is not None:
            self._metrics.add(record)
        if self._records is not None:
            self._records.append(record)

    def finish(self, *, interrupted: bool = False) -> None:
        """What needs the whole scan: metrics, the JSON document, the diff against a baseline."""
        if self._metrics is not None and self._config.metrics is not None:
            self._write_metrics(self._metrics, self._config.metrics, interrupted)
        if self._records is None or not self._records:
            return
        this = Report.of("this scan", self._records)
        if self._stdout_format is OutputFormat.JSON:
            print_json({"scan": this.scan, "hosts": this.hosts, "summaries": this.summaries})
        if self._config.html is not None:
            write_html(self._config.html, this.records)
        if self._config.junit is not None:
            self._write_junit(self._config.junit, self._records)
        if self._baseline is not None and not self._stdout_closed:
            from hsts_coverage.report.diff import diff_reports
            from hsts_coverage.report.diffview import diff_text

            print(diff_text(diff_reports(self._baseline, this)))

    @staticmethod
    def _write_junit(path: Path, records: list[Record]) -> None:
        from hsts_coverage.report.junit import write_junit

        try:
            write_junit(path, records)
        except OSError as exc:
            print(f"{PROG}: cannot write the JUnit report {path}: {exc.strerror}", file=sys.stderr)

    @staticmethod
    def _write_metrics(metrics: ScanMetrics, path: Path, interrupted: bool) -> None:
        try:
            metrics.write(path, datetime.now(UTC), interrupted=interrupted)
        except OSError as exc:
            print(f"{PROG}: cannot write the metrics {path}: {exc.strerror}", file=sys.stderr)


def table_report() -> TableReport:
    from hsts_coverage.report.table import TableReport  # rich: only for a table

    return TableReport(sys.stdout)


class _NoProgress:
    def start_domain(self, domain: str, total: int) -> None:
        """No bar: not a terminal, or not wanted."""

    def advance(self) -> None:
        """No bar."""

    def end_domain(self) -> None:
        """No bar."""


def _progress_view(wanted: bool) -> ProgressView | _NoProgress:
    if not (wanted and sys.stderr.isatty()):
        return _NoProgress()
    from hsts_coverage.report.table import ProgressView  # rich: only on a terminal

    return ProgressView(sys.stderr, True)


def _discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@contextmanager
def open_report(path: Path, *, append: bool) -> Iterator[BinaryIO]:
    """The report file. A regular file (or a new name) is written through a temporary file
    renamed into place at the end, so the final name never holds half a report; anything else
    (`/dev/null`, `/dev/stdout`, a FIFO) is written to as a stream, never replaced. With
    `append`, lines are added to the file as they come (for a log that cron keeps adding to),
    under an exclusive lock, starting on a fresh line."""
    if path == Path("-"):
        yield sys.stdout.buffer
        return
    if append:
        with _appending(path) as stream:
            yield stream
        return
    final = _regular_target(path)
    if final is None:
        with _opened(path, "wb") as stream:
            yield stream
        return
    target = final.with_name(f".{final.name}.{os.getpid()}.part")
    with _opened(target, "wb") as stream:
        try:
            yield stream
        except BaseException:
            print(f"{PROG}: partial report kept in {target}", file=sys.stderr)
            raise
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(target, final)


def _regular_target(path: Path) -> Path | None:
    """Where to rename a finished report: the path (through its symlinks), or None for a path
    that is not a regular file (a device, a FIFO), which must not be replaced."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        usage_error(f"cannot write {path}: {exc.strerror}")
    return path.resolve() if stat.S_ISREG(mode) else None


@contextmanager
def _opened(path: Path, mode: str) -> Iterator[BinaryIO]:
    try:
        stream = path.open(mode)
    except OSError as exc:
        usage_error(f"cannot write {path}: {exc.strerror}")
    try:
        yield cast(BinaryIO, stream)
    finally:
        _close(stream, path)


def _close(stream: IO[Any], path: Path) -> None:
    """Close, saying in one line if the last buffered bytes cannot be written (a full disk, a
    file-size limit). The writers flush and sync before a normal end, where such an error is
    raised and reported; this is the end of a scan that already failed or was interrupted, or a
    stream the garbage collector closes, where a traceback would be all the user saw."""
    try:
        stream.close()
    except OSError as exc:
        print(f"{PROG}: cannot finish writing {path}: {exc.strerror or exc}", file=sys.stderr)


@contextmanager
def _appending(path: Path) -> Iterator[BinaryIO]:
    with _opened(path, "ab") as stream:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            usage_error(f"{path} is being appended to by another scan: one writer at a time")
        except OSError:
            pass  # a file that takes no lock (a device): nothing to share it with
        if _ends_mid_line(path):
            stream.write(b"\n")  # a torn last line stays alone on its line, for readers to skip
        yield stream
        stream.flush()


def _ends_mid_line(path: Path) -> bool:
    try:
        with path.open("rb") as log:
            if not stat.S_ISREG(os.fstat(log.fileno()).st_mode) or not log.seek(0, os.SEEK_END):
                return False
            log.seek(-1, os.SEEK_END)
            return log.read(1) != b"\n"
    except OSError:
        return False
