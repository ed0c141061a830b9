"""Session set-up: lab addresses per pytest-xdist worker, and the package's bytecode compiled.

Several tests run the scanner under a file-size limit (a full disk). A Python process that
compiles a module there caches its bytecode cut short at the limit (one short write, no error),
and every later import of that module fails. So the package is compiled once, before any test
(in the controller, before the workers start), and no limited process has anything to compile.
"""

from __future__ import annotations

import compileall
import os
from pathlib import Path

import pytest

import hsts_coverage
from tests.helpers import worker_bases


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        compileall.compile_dir(Path(hsts_coverage.__file__).parent, quiet=1)
    try:
        os.environ.update(worker_bases(worker or "master", dict(os.environ)))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
