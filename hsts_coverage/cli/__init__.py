"""The command line: options -> ScanConfig -> pipeline -> reports; errors -> one line + exit code.

`app` the typer application and its errors; `options` typed parsing of user input; `scan` and
`commands` the commands; `outputs` the fan-out of a scan's events and atomic report writes;
`signals` a graceful stop; `main` the entry point.

Exit codes: 0 SAFE, 1 NOT SAFE, 3 INCONCLUSIVE or a source failure, 2 usage error, 5 a failed
run (a bug or a report that could not be written; the partial report stays in its temporary
file), 130 on Ctrl-C.
"""

from hsts_coverage.cli.main import main as main
