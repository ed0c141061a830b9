"""Child processes of the benchmark: the measured commands and the services they run against.

- `measure(argv, ...)` runs one command to completion and returns its `Usage`: wall time
  (monotonic, from just before the fork to the reaping), user and system CPU seconds from
  `os.wait4` (the command's own and its reaped worker processes'), its exit code, and peak RSS:
  the largest sum over the command and its descendants (sampled every 20 ms from /proc, so that
  worker processes count), and never less than wait4's peak of the largest single process. With
  it, the summed PSS at that moment (`/proc/PID/smaps_rollup`): a page that several processes map
  (their libraries' code, above all) is counted once in all, divided among them, where the
  summed RSS counts it in each. Reading it costs about 0.5 ms a process, so it is read only when
  the summed RSS reaches a new peak.
- `Service` is a long-running child (the lab, nginx, the delaying proxy): started with its
  stderr in a log file, optionally awaited for the one line it prints on stdout when ready,
  stopped with SIGTERM (SIGKILL after a grace period). `Service.cpu_seconds()` adds up the CPU
  time of the process and its descendants (nginx's workers) from /proc, so that each measured
  run can say what the fleet itself spent.

A service that dies or does not get ready raises `BenchError` with the end of its log: setting
up the fleet either works or says why in one message.

`compile_package(root)` writes the bytecode of the package measured before any round, as an
installed package has it (pip compiles at install; an editable install writes it on first
import, unless PYTHONDONTWRITEBYTECODE is set, as on some CI machines). Without it each of the
scanner's processes compiled every module it imports in every round: 0.37 s of CPU a scan of the
healthy fleet, which the one-file baseline hardly pays.
"""

from __future__ import annotations

import compileall
import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_STOP_SECONDS = 10.0
_EXIT_SECONDS = 2.0
_LOG_TAIL = 2000  # characters of a failed service's log shown in the error
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
_UTIME, _STIME = 14, 15  # fields of /proc/PID/stat, numbered as in proc(5)
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
_RSS_SAMPLE_SECONDS = 0.02


def compile_package(root: Path) -> None:
    """Bytecode for every module under `root` not compiled yet (see the module docstring). A
    directory that cannot be written is left as it is: the rounds then compile as they go."""
    compileall.compile_dir(root, quiet=2)


class BenchError(Exception):
    """The benchmark cannot run or cannot trust a run; the message is for people."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What one run of a command cost."""

    wall_s: float
    user_s: float
    sys_s: float
    max_rss_kib: int
    pss_at_peak_kib: int  # the summed PSS when the summed RSS peaked
    exit_code: int

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def measure(
    argv: Sequence[str], *, stdout: Path, stderr: Path, env: Mapping[str, str] | None = None
) -> Usage:
    """Run `argv` to completion, its output in the two files; its cost from wait4 and /proc."""
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        sampler = _TreeRss(process.pid)
        sampler.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            sampler.stop()
        wall = time.monotonic() - started
    # wait4 reaped it: tell Popen, so that it never waits for (or warns about) it again.
    process.returncode = os.waitstatus_to_exitcode(status)
    rss = max(usage.ru_maxrss, sampler.peak_kib)
    pss = sampler.pss_kib or rss  # a command over before its first sample: the one process
    return Usage(wall, usage.ru_utime, usage.ru_stime, rss, pss, process.returncode)


class _TreeRss(threading.Thread):
    """The peak of the summed RSS of a process and its descendants, sampled in a thread, and
    their summed PSS at that peak."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self._root = root
        self._done = threading.Event()
        self.peak_kib = 0
        self.pss_kib = 0

    def run(self) -> None:
        while not self._done.wait(_RSS_SAMPLE_SECONDS):
            processes = _descendants(self._root)
            rss = sum(map(_rss_kib, processes))
            if rss > self.peak_kib:
                self.peak_kib = rss
                self.pss_kib = sum(map(_pss_kib, processes))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _descendants(root: int) -> list[int]:
    """`root` and its live descendants, from /proc/PID/task/TID/children (cheaper than a scan
    of every process)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text()
                queue.extend(int(child) for child in children.split())
    return found


def _rss_kib(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


def _pss_kib(pid: int) -> int:
    """The process's proportional set size (smaps_rollup's `Pss:` line, in KiB); 0 if gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in rollup.splitlines():
        field, _, value = line.partition(":")
        if field == "Pss":
            return int(value.split()[0])
    return 0


class Service:
    """A child process that serves something until it is stopped."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def ready_line(self, timeout: float) -> str:
        """The first line the service prints on stdout, which it prints once it is ready."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            chunk = os.read(self.process.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                raise self.failure(f"not ready within {timeout:.0f} s" if not ready else "exited")
            line += chunk
        return line.decode()

    def failure(self, what: str) -> BenchError:
        """A BenchError naming the service, what went wrong and the end of its log."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(_EXIT_SECONDS)  # a service that closed stdout is on its way out
        code = self.process.poll()
        status = "running" if code is None else f"exit status {code}"
        tail = self.log_path.read_text(errors="replace")[-_LOG_TAIL:]
        return BenchError(f"{self.name}: {what} ({status}); {self.log_path}:\n{tail}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the service and its descendants so far (0 once gone)."""
        return sum(_cpu_ticks(pid) for pid in _descendants(self.pid)) / _TICKS_PER_SECOND

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _cpu_ticks(pid: int) -> int:
    return (_stat_field(pid, _UTIME) or 0) + (_stat_field(pid, _STIME) or 0)


def _stat_field(pid: int, number: int) -> int | None:
    """Field `number` of /proc/PID/stat as proc(5) numbers them (from 1: pid, comm, state,
    ppid, ...), for numbers from 4 on; None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses; what
    # follows ") " starts at field 3.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[number - 3])
