"""The package's import graph: no cycles, and the contracts of `[tool.importlinter]` hold.

The graph is static (grimp reads every module's source): imports under `TYPE_CHECKING` and inside
functions count as much as the ones at the top, since a cycle among them is a tangle all the
same. `from package import module` also counts as an import of the package itself: it reads the
package's namespace, so a package whose `__init__` imports the importer closes a cycle.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Set
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

PACKAGE = "hsts_coverage"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
_FROM = re.compile(r"from\s+([\w.]+)\s+import\b")


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports."""
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    edges: dict[str, set[str]] = {
        m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules
    }
    packages = {m for m in graph.modules if graph.find_children(m)}
    for importer, imported in [(a, b) for a, bs in edges.items() for b in bs]:
        for detail in graph.get_import_details(importer=importer, imported=imported):
            match = _FROM.match(detail["line_contents"].strip())
            if match and match[1] in packages and match[1] != importer:
                edges[importer].add(match[1])
    return edges


def cycles(edges: Mapping[str, Set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing
    itself), each as sorted module names: Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    found.append(sorted(component))
    return found


def cycle_text(component: list[str], edges: Mapping[str, Set[str]]) -> str:
    members = set(component)
    links = [f"{a} -> {b}" for a in component for b in sorted(edges[a]) if b in members]
    return "; ".join(links)


def test_the_package_has_no_import_cycles() -> None:
    edges = import_graph()
    found = cycles(edges)
    assert not found, "import cycles: " + " | ".join(cycle_text(c, edges) for c in found)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"a"}}, [["a"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
    ],
)
def test_cycles_finds_every_strongly_connected_component(
    edges: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert sorted(cycles(edges)) == expected


def test_from_a_package_import_a_module_is_an_import_of_the_package() -> None:
    """`hsts_coverage.lab` imports `lab.fleet` in its `__init__`: a `from hsts_coverage.lab
    import x` in a module `fleet` imports would close a cycle, and the graph must show it."""
    edges = import_graph()
    assert "hsts_coverage.lab.fleet" in edges["hsts_coverage.lab"]
    assert "hsts_coverage.sources" in edges["hsts_coverage.sources.enumerate"]


def test_the_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    """`make check` runs `lint-imports` too; this keeps `make test` from passing without it."""
    code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out


def test_a_broken_contract_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The negative twin: a contract the code does not keep (the prober uses ssl) fails."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        f'[tool.importlinter]\nroot_package = "{PACKAGE}"\ninclude_external_packages = true\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "the prober without ssl"\ntype = "forbidden"\n'
        'source_modules = ["hsts_coverage.probe.prober"]\nforbidden_modules = ["ssl"]\n',
        encoding="utf-8",
    )
    assert lint_imports(config_filename=str(config), no_cache=True, no_logo=True) == 1
    assert "hsts_coverage.probe.prober is not allowed to import ssl" in capsys.readouterr().out


# The probe's modules that hand a host's probes to the rules (rules.host judges them there).
HANDS_TO_RULES = {"hosts.py", "workers.py"}


def test_the_probe_builds_no_finding_and_names_no_reason() -> None:
    """The contract "The probe chooses no reasons" keeps `reasons` and `rules.failures` out of
    probe/; a `Finding` comes from models and carries a reason all the same, so no probe module
    (but the ones that hand the probes to the rules) may name one, nor the Reason type."""
    probe = Path(__file__).resolve().parents[2] / PACKAGE / "probe"
    naming = [
        f"{path.name}: {word}"
        for path in sorted(probe.glob("*.py"))
        if path.name not in HANDS_TO_RULES
        for word in sorted(set(re.findall(r"\b(?:Finding|Reason)\b", path.read_text("utf-8"))))
    ]
    assert naming == []


TESTS = Path(__file__).resolve().parents[1]


def test_test_modules_share_helpers_only_through_the_helpers_module() -> None:
    """A test module imports no other test module: what tests share lives in tests/helpers.py."""
    crossing = []
    for path in sorted(TESTS.rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"\s*(?:from|import)\s+(tests\.[\w.]+)", line)
            if match and match[1] != "tests.helpers":
                crossing.append(f"{path.relative_to(TESTS)}: {line.strip()}")
    # The schema test's validator is the report's (issue 11's report part moves it with records).
    assert crossing == ["e2e/test_schema_lab.py: from tests.unit.test_schema import errors"]


MAX_LINES = 400  # "about 400"
# Larger on purpose, each for its reason; a module not named here fails past MAX_LINES, and one
# named here that has come under it fails too (the list names only what remains).
LARGE = {
    "lab/scenarios.py": "data: the lab's scenario table",
    "lab/certs.py": "the lab's certificate factory, one function per kind of bad certificate",
    "lab/web.py": "the lab's web servers, one handler per scenario behaviour",
    "lab/fleet.py": "the lab's facade: every server of the lab started and stopped in one place",
    "lab/dns.py": "the lab's DNS server: its zones built from the scenario table, and the wire",
}


def test_modules_stay_a_few_hundred_lines() -> None:
    package = Path(__file__).resolve().parents[2] / PACKAGE
    sizes = {
        str(path.relative_to(package)): len(path.read_text(encoding="utf-8").splitlines())
        for path in package.rglob("*.py")
    }
    over = {name: n for name, n in sizes.items() if n > MAX_LINES and name not in LARGE}
    assert not over, f"modules over {MAX_LINES} lines: {over}"
    assert set(LARGE) <= set(sizes), "a module named in LARGE is gone: drop it from the list"
    small = {name: sizes[name] for name in LARGE if sizes[name] <= MAX_LINES}
    assert not small, f"modules in LARGE no longer over {MAX_LINES} lines: drop them: {small}"


# Libraries a scan loads only when it needs them: the memory of every process counts (a healthy
# fleet's scan is about 100 MiB over two processes). dnspython: zone files and transfers;
# cryptography: a certificate to decode; rich: the terminal table; jinja2: the HTML report.
LAZY = ("dns", "cryptography", "rich", "jinja2")


@pytest.mark.parametrize("module", ["hsts_coverage.cli.app", "hsts_coverage.probe.worker"])
def test_a_process_starts_without_the_libraries_it_may_not_need(module: str) -> None:
    code = f"import sys, {module}; print(*sorted(set({LAZY!r}) & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


# With worker processes the main process probes nothing (unless a worker is lost), and so loads
# no part of the prober: its HTTP readers, the URL parser, the preload list (about 2 MiB).
PROBER = (
    "hsts_coverage.probe.prober",
    "hsts_coverage.probe.apex",
    "hsts_coverage.rules.redirects",
    "h11",
    "httptools",
    "ada_url",
    "hstspreload",
)


def test_the_main_process_loads_no_part_of_the_prober_until_it_probes() -> None:
    code = (
        "import sys, hsts_coverage.cli.main, hsts_coverage.pipeline.orchestration;"
        f" print(*sorted(set({PROBER!r}) & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


def test_the_command_maps_no_cpp_runtime() -> None:
    # frozenlist's compiled build is C++ (1.1 MiB of the C++ runtime's pages for the whole
    # scan); the command runs its pure-Python code instead.
    code = (
        "import atexit, sys\n"
        "def seen():\n"
        "    maps = open('/proc/self/maps').read()\n"
        "    print('frozenlist._frozenlist' in sys.modules, 'libstdc++' in maps)\n"
        "atexit.register(seen)\n"
        "sys.argv = ['hsts-coverage', '--help']\n"
        "from hsts_coverage.__main__ import run\n"
        "run()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FROZENLIST_NO_EXTENSIONS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.split()[-2:] == ["False", "False"], done.stdout[-300:]


def test_a_worker_with_its_own_ca_bundle_loads_no_package_resources() -> None:
    # importlib.resources brings tempfile, shutil, bz2, lzma and random (0.8 MiB a process):
    # the public suffix list is read from the path its package gives, and certifi, which
    # imports it, only for a scan without --ca-bundle.
    import certifi

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import hsts_coverage.probe.worker, hsts_coverage.probe.prober, hsts_coverage.rules.der\n"
        "from hsts_coverage.probe.tls import verified_context\n"
        "from hsts_coverage.rules.names import is_public_suffix\n"
        "assert is_public_suffix('co.uk') and not is_public_suffix('example.co.uk')\n"
        f"verified_context(Path({certifi.where()!r}))\n"
        "print(*sorted({'certifi', 'importlib.resources', 'tempfile'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []
