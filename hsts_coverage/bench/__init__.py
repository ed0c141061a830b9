"""The benchmark: the scanner against a naive baseline, on a fleet that is not the bottleneck.

    make bench                                   # 2,000 hosts, 3 rounds
    make bench BENCH_HOSTS=10000 BENCH_ROUNDS=1
    make bench BENCH_RTT_MS=50                   # latency mode
    python -m hsts_coverage.bench [--hosts N] [--rounds R] [--rtt-ms MS]
                                  [--output bench-results.json] [--scanner-args ...]

The pieces, in the order a run uses them:

- `testbed`: the lab serves the fleet's DNS and CT (`--fleet-serve dns`), nginx (`nginx`)
  serves its N hosts with one ECDSA certificate, and with an RTT the delaying proxy (`proxy`)
  stands in front of nginx;
- `runner`: rounds of interleaved commands (scanner, baseline, and in latency mode the scanner
  at concurrency 500), each a child process measured by `os.wait4` (`process`) and checked;
  the baseline is `baseline`;
- `report`: the table on stdout and `bench-results.json`.

bench-results.json (`schema_version` 1):

    {"schema_version", "tool", "started_at", "finished_at",
     "machine": {"nproc", "cpu_model", "kernel", "python", "openssl", "nginx", "aiohttp",
                 "load_average"},
     "git": {"commit", "dirty"} or null,
     "config": {"domain", "hosts", "names", "rounds", "rtt_ms", "per_address", "addresses",
                "base", "scanner_args", "baseline_concurrency", "extra_concurrency",
                "ct_rows"},
     "commands": {NAME: {"argv", "median": {"wall_s", "hosts_per_s", "cpu_s", "max_rss_kib",
                                            "pss_at_peak_kib", "fleet_cpu_s"},
                         "runs": [{"round", "wall_s", "hosts_per_s", "cpu_s", "user_s",
                                   "sys_s", "max_rss_kib", "pss_at_peak_kib", "exit_code",
                                   "names", "checked",
                                   "statuses", "fleet_cpu_s": {SERVICE: s},
                                   "scan": {"timings", "enumeration"} or null, "problems"}]}},
     "ratios": {"NAME/baseline": {"per_round": [...], "median"}},
     "ok", "problems"}

hosts/s is names (hosts + the apex) over wall seconds; a ratio is a scanner command's hosts/s
over the baseline's in the same round. The exit status is 0 when every run did the whole job,
1 when a run failed its check (its numbers are still written, marked), 2 for a setup error,
130 when interrupted (Ctrl-C; the fleet is stopped, nothing is written).
"""
