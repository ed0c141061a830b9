"""The benchmark's results: one JSON document (`document`) and its table (`table`).

Per command the medians over the rounds of wall time, hosts/s, CPU seconds (user + system of
the child) and peak RSS; per round and as a median, the ratio of each scanner command's hosts/s
to the baseline's in the same round. `machine()` says what ran it, since numbers are only
comparable on the same machine: CPUs, CPU model, kernel, Python, OpenSSL, nginx and aiohttp
versions, the load average at the start (other work on the machine skews everything), and the
git commit measured.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import ssl
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from hsts_coverage import __version__
from hsts_coverage.bench.nginx import nginx_version
from hsts_coverage.bench.runner import Command, Run

SCHEMA_VERSION = 1
BASELINE = "baseline"
_REPO = Path(__file__).resolve().parents[2]


def machine(nginx: str) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "nginx": nginx_version(nginx),
        "aiohttp": aiohttp.__version__,
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else platform.processor() or "unknown"


def git_state() -> dict[str, Any] | None:
    """{"commit", "dirty"} of the checkout being measured, or None outside git."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": dirty}


def _git(*args: str) -> str:
    result = subprocess.run(["git", "-C", str(_REPO), *args], capture_output=True, check=True)
    return result.stdout.decode().strip()


def document(
    config: dict[str, Any],
    machine_info: dict[str, Any],
    commands: Sequence[Command],
    runs: Sequence[Run],
    started_at: dt.datetime,
) -> dict[str, Any]:
    """The whole bench-results.json."""
    problems = [f"{r.command} round {r.round}: {p}" for r in runs for p in r.problems]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": f"hsts-coverage {__version__} bench",
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info,
        "git": git_state(),
        "config": config,
        "commands": {c.name: _command_json(c, runs) for c in commands},
        "ratios": _ratios(commands, runs),
        "ok": not problems,
        "problems": problems,
    }


def _command_json(command: Command, runs: Sequence[Run]) -> dict[str, Any]:
    own = [run for run in runs if run.command == command.name]
    return {
        "argv": list(command.argv),
        "runs": [_run_json(run) for run in own],
        "median": _medians(own),
    }


def _run_json(run: Run) -> dict[str, Any]:
    return {
        "round": run.round,
        "wall_s": round(run.usage.wall_s, 3),
        "hosts_per_s": round(run.hosts_per_s, 1),
        "cpu_s": round(run.usage.cpu_s, 2),
        "user_s": round(run.usage.user_s, 2),
        "sys_s": round(run.usage.sys_s, 2),
        "max_rss_kib": run.usage.max_rss_kib,
        "pss_at_peak_kib": run.usage.pss_at_peak_kib,
        "exit_code": run.usage.exit_code,
        "names": run.names,
        "checked": run.checked,
        "statuses": run.statuses,
        "fleet_cpu_s": run.fleet_cpu_s,
        "scan": run.scan,
        "problems": list(run.problems),
    }


def _medians(runs: Sequence[Run]) -> dict[str, float]:
    if not runs:
        return {}
    return {
        "wall_s": round(statistics.median(r.usage.wall_s for r in runs), 3),
        "hosts_per_s": round(statistics.median(r.hosts_per_s for r in runs), 1),
        "cpu_s": round(statistics.median(r.usage.cpu_s for r in runs), 2),
        "max_rss_kib": round(statistics.median(r.usage.max_rss_kib for r in runs)),
        "pss_at_peak_kib": round(statistics.median(r.usage.pss_at_peak_kib for r in runs)),
        "fleet_cpu_s": round(statistics.median(sum(r.fleet_cpu_s.values()) for r in runs), 2),
    }


def _ratios(commands: Sequence[Command], runs: Sequence[Run]) -> dict[str, Any]:
    """ "NAME/baseline" -> {"per_round": [hosts/s ratio], "median"} for each scanner command."""
    rate = {(run.command, run.round): run.hosts_per_s for run in runs}
    rounds = sorted({run.round for run in runs})
    ratios: dict[str, Any] = {}
    for command in commands:
        if command.name == BASELINE:
            continue
        per_round = [
            round(rate[command.name, n] / rate[BASELINE, n], 3)
            for n in rounds
            if (command.name, n) in rate and (BASELINE, n) in rate
        ]
        median = round(statistics.median(per_round), 3) if per_round else None
        ratios[f"{command.name}/{BASELINE}"] = {"per_round": per_round, "median": median}
    return ratios


def table(doc: dict[str, Any]) -> str:
    """The document for people: header, one line per command, one per round."""
    return "\n".join([*_header(doc), "", *_command_lines(doc), "", *_round_lines(doc), ""])


def _header(doc: dict[str, Any]) -> list[str]:
    config, host = doc["config"], doc["machine"]
    git = doc["git"]
    commit = f"{git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}" if git else "unknown"
    return [
        f"hsts-coverage bench: {config['domain']}, {config['hosts']} hosts + apex = "
        f"{config['names']} names, {config['rounds']} round(s), RTT {config['rtt_ms']:g} ms, "
        f"{config['per_address']} name(s) per address ({config['addresses']} addresses)",
        f"machine: {host['nproc']} CPUs ({host['cpu_model']}), Linux {host['kernel']}, "
        f"Python {host['python']}, {host['openssl']}, nginx {host['nginx']}, "
        f"aiohttp {host['aiohttp']}, load {' '.join(map(str, host['load_average']))}",
        f"commit {commit}, started {doc['started_at']}",
    ]


def _command_lines(doc: dict[str, Any]) -> list[str]:
    head = f"{'command':<16}{'wall s':>9}{'hosts/s':>10}{'CPU s':>9}{'peak RSS MiB':>14}"
    head += f"{'its PSS MiB':>13}"
    lines = [head + f"{'fleet CPU s':>13}{'runs ok':>9}", "-" * (len(head) + 22)]
    for name, command in doc["commands"].items():
        median = command["median"]
        runs_ok = f"{sum(not run['problems'] for run in command['runs'])}/{len(command['runs'])}"
        lines.append(
            f"{name:<16}{median['wall_s']:>9.2f}{median['hosts_per_s']:>10.1f}"
            f"{median['cpu_s']:>9.2f}{median['max_rss_kib'] / 1024:>14.1f}"
            f"{median['pss_at_peak_kib'] / 1024:>13.1f}"
            f"{median['fleet_cpu_s']:>13.2f}{runs_ok:>9}"
        )
    lines.append("(medians over the rounds; peak RSS: summed over the command's processes, each")
    lines.append(" counting the library pages they share; its PSS: the same moment, shared pages")
    lines.append(" counted once; fleet CPU: lab DNS/CT + nginx + proxy during the run)")
    return lines


def _round_lines(doc: dict[str, Any]) -> list[str]:
    names = list(doc["commands"])
    ratio_names = list(doc["ratios"])
    lines = ["round" + "".join(f"{n + ' h/s':>18}" for n in names)]
    lines[0] += "".join(f"{r:>24}" for r in ratio_names)
    rounds = sorted({run["round"] for c in doc["commands"].values() for run in c["runs"]})
    for index, number in enumerate(rounds):
        rates = [_rate(doc["commands"][n], number) for n in names]
        ratios = [_at(doc["ratios"][r]["per_round"], index) for r in ratio_names]
        lines.append(f"{number:<5}" + "".join(f"{x:>18}" for x in rates) + _ratio_cells(ratios))
    medians = [doc["ratios"][r]["median"] for r in ratio_names]
    lines.append(f"{'median':<5}" + " " * 18 * len(names) + _ratio_cells(medians))
    lines.extend(_problem_lines(doc))
    return lines


def _rate(command: dict[str, Any], number: int) -> str:
    for run in command["runs"]:
        if run["round"] == number:
            mark = "" if not run["problems"] else " FAILED"
            return f"{run['hosts_per_s']:.1f}{mark}"
    return "-"


def _at(values: list[float], index: int) -> float | None:
    return values[index] if index < len(values) else None


def _ratio_cells(ratios: Sequence[float | None]) -> str:
    return "".join(f"{'-' if r is None else f'{r:.3f}':>24}" for r in ratios)


def _problem_lines(doc: dict[str, Any]) -> list[str]:
    if not doc["problems"]:
        return []
    return ["", "FAILED RUNS (their numbers do not measure the whole job):"] + [
        f"  {problem}" for problem in doc["problems"]
    ]
