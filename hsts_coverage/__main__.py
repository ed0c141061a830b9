"""`python -m hsts_coverage` (and the `hsts-coverage` command) runs the command line.

Loading the command line takes a few tenths of a second. Ctrl-C during that time is held back
until it is loaded (an interrupt in the middle of a compiled extension's initialisation, such as
orjson's, can crash the interpreter), then ends the run with the same one line and exit code 130
as later, not a traceback.

A scan that will probe in a worker process has it started first, so that it loads on another
core while the command line loads here (`probe.spare`).

frozenlist (which aiohttp uses for its signals and a few lists) runs as the pure-Python code it
ships: its compiled build is C++, and loading it maps the C++ runtime into the main process,
about 1.1 MiB of resident pages for the whole scan, for lists that are built a few times.
"""

import os
import signal
import sys


def run() -> None:
    held = {signal.SIGINT}
    try:
        _mask(signal.SIG_BLOCK, held)
        try:
            from hsts_coverage.probe.spare import start_early

            start_early(sys.argv[1:])  # the worker unblocks Ctrl-C for itself
            os.environ.setdefault("FROZENLIST_NO_EXTENSIONS", "1")  # read when it is imported
            from hsts_coverage.cli import main
        finally:
            _mask(signal.SIG_UNBLOCK, held)  # a Ctrl-C held back arrives here
        main()
    except KeyboardInterrupt:
        print("hsts-coverage: error: interrupted", file=sys.stderr)
        sys.exit(130)


def _mask(how: int, signals: set[signal.Signals]) -> None:
    if hasattr(signal, "pthread_sigmask"):  # POSIX
        signal.pthread_sigmask(how, signals)


if __name__ == "__main__":
    run()
