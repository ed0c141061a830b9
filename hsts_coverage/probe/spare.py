"""A worker process started the moment `hsts-coverage scan` starts, before the command line loads.

Loading the command line takes about half a second of one core, and a worker process's own start
(its imports) about a quarter of one; a scan started its workers only once its names were known
(`workers.workers_for` needs their number), and the first hosts waited for them. Started at once,
the worker loads on another core meanwhile and waits for its configuration on its stdin: by the
time the first host is resolved it is ready. `workers` takes it (`take`) for the scan's first
worker; a run that needs none (fewer names than a worker pays for, `--rate`, `--workers 0`) or
ends before its scan (`--help`, a usage error, a failure) kills it at exit (`discard`): it has
not been sent a byte, so there is nothing to finish.

Only for `scan`, with more than one usable core, and not when the arguments or the environment
already say no worker will be used (`wanted`). This module runs before anything else is loaded,
so it imports nothing but the standard library's process handling.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence

WORKER_ARGV = ("-m", "hsts_coverage.probe.worker")
_ENV_WORKERS = "HSTS_COVERAGE_WORKERS"
_ENV_RATE = "HSTS_COVERAGE_RATE"

_spare: subprocess.Popen[bytes] | None = None


def start_early(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> None:
    """Start the spare worker if `argv` (without the program name) is a scan that may use one."""
    global _spare
    if _spare is not None or not wanted(argv, env, usable_cpus()):
        return
    try:
        _spare = spawn()
    except OSError:  # no process to spare (a process limit, no memory): the scan starts its own
        return
    atexit.register(discard)


def spawn() -> subprocess.Popen[bytes]:
    """A worker process, its stdin and stdout piped, in a session of its own (Ctrl-C reaches
    the main process only, which decides)."""
    return subprocess.Popen(
        [sys.executable, *WORKER_ARGV],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )


def wanted(argv: Sequence[str], env: Mapping[str, str], cpus: int) -> bool:
    """A cheap guess, before the options are parsed: a `scan` on more than one core, without
    `--workers 0`, `--rate` or a help request. A wrong yes costs a quarter second of a spare
    core; the scan's own parsing decides whether the worker is used."""
    if cpus < 2 or not argv or argv[0] != "scan":
        return False
    options = list(argv[1:])
    if any(arg in ("--help", "-h") for arg in options):
        return False
    workers = [*_values_of("--workers", options), env.get(_ENV_WORKERS, "auto")]
    rates = [*_values_of("--rate", options), env.get(_ENV_RATE, "0")]
    return not any(_is_zero(value) for value in workers) and all(_is_zero(r) for r in rates)


def _is_zero(value: str) -> bool:
    """0 as the options read it; a value they refuse ends the run anyway."""
    try:
        return float(value) == 0
    except ValueError:
        return False


def _values_of(option: str, options: Sequence[str]) -> Iterator[str]:
    for index, arg in enumerate(options):
        if arg.startswith(f"{option}="):
            yield arg.split("=", 1)[1]
        elif arg == option and index + 1 < len(options):
            yield options[index + 1]


def take() -> subprocess.Popen[bytes] | None:
    """The spare worker, once, if it was started and is still running."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None and spare.poll() is not None:
        _close(spare)
        return None
    return spare


def discard() -> None:
    """Kill the spare worker if no scan took it (at exit, or when a scan needs no worker)."""
    global _spare
    spare, _spare = _spare, None
    if spare is None:
        return
    if spare.poll() is None:
        spare.kill()
    spare.wait()
    _close(spare)


def _close(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def usable_cpus() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
