"""The benchmark measures the package as installed: its modules' bytecode written first."""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path

import pytest

import hsts_coverage.bench.__main__ as bench
from hsts_coverage.bench.process import compile_package


def test_bytecode_is_written_even_where_python_would_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # PYTHONDONTWRITEBYTECODE=1
    module = tmp_path / "pkg" / "stage" / "module.py"
    module.parent.mkdir(parents=True)
    module.write_text("ANSWER = 42\n")
    compile_package(tmp_path / "pkg")
    assert Path(importlib.util.cache_from_source(str(module))).is_file()


def test_the_bench_compiles_the_package_before_anything_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled: list[Path] = []
    monkeypatch.setattr(bench, "compile_package", compiled.append)
    monkeypatch.setattr(bench, "nginx_binary", lambda: None)  # stops right after
    monkeypatch.setattr(signal, "signal", lambda *handler: None)  # the test's own SIGTERM
    assert bench.main(["--hosts", "10"]) == bench.EXIT_SETUP
    assert compiled == [Path(bench.__file__).resolve().parent.parent]
    assert (compiled[0] / "probe" / "worker.py").is_file()
