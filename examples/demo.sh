#!/usr/bin/env bash
# `make demo`: start the local lab, scan it the way a user scans a real domain, show the report,
# stop the lab. Usage: examples/demo.sh VENV_BIN LAB_BASE
set -euo pipefail
bin=${1:-.venv/bin}
base=${2:-127.77}
state="lab-state"
report=demo-report.ndjson
metrics=demo-metrics.prom
junit=demo-junit.xml

rm -f "$state/lab.json"
"$bin/python" -m hsts_coverage.lab --base "$base" --state-dir "$state" >/dev/null &
lab=$!
trap 'kill "$lab" 2>/dev/null; wait "$lab" 2>/dev/null || true' EXIT
for _ in $(seq 150); do
  [ -s "$state/lab.json" ] && break
  kill -0 "$lab" 2>/dev/null || { echo "demo: the lab failed to start" >&2; exit 1; }
  sleep 0.2
done
[ -s "$state/lab.json" ] || { echo "demo: the lab did not come up" >&2; exit 1; }

field() { "$bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$state/lab.json" "$1"; }
args=(scan "$(field domain)" --ct-url "$(field ct_url)" --resolver "$(field resolver)"
      --ca-bundle "$(field ca_bundle)" --allow-cidr 127.0.0.0/8 --timeout 3 --output "$report"
      --metrics "$metrics" --junit "$junit")
echo "\$ hsts-coverage ${args[*]}"
"$bin/hsts-coverage" "${args[@]}" && status=0 || status=$?
echo "exit code $status (0 SAFE, 1 NOT SAFE, 3 INCONCLUSIVE); NDJSON report: $report ($(wc -l < "$report") records)"
echo "Prometheus metrics: $metrics ($(grep -vc '^#' "$metrics") samples); JUnit XML: $junit ($(grep -c '<testcase' "$junit") test cases)"
# The lab is built to be NOT SAFE: anything else means the demo itself is broken.
[ "$status" -eq 1 ]

# The hosts CT cannot see: dns-lab.test's CT lists only the apex, www and a wildcard; its
# HTTP-only hosts are in DNS alone. The default scan finds the common ones by their labels...
zone() { "$bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['zone_lab'][sys.argv[2]])" "$state/lab.json" "$1"; }
reach=(--ct-url "$(field ct_url)" --resolver "$(field resolver)" --ca-bundle "$(field ca_bundle)"
       --allow-cidr 127.0.0.0/8 --timeout 3 --no-apex-check)
dns_args=(scan "$(zone domain)" "${reach[@]}" --output demo-dns-lab.ndjson)
echo
echo "\$ hsts-coverage ${dns_args[*]}"
"$bin/hsts-coverage" "${dns_args[@]}" && status=0 || status=$?
[ "$status" -eq 1 ]
# ... and only the zone (a file, or a transfer from its name server) has every one of them.
for source in zone-file axfr; do
  [ "$source" = zone-file ] && where=$(zone zone_file) || where=$(zone axfr)
  zone_args=(scan "$(zone domain)" "${reach[@]}" "--$source" "$where" --no-guess --quiet)
  echo
  echo "\$ hsts-coverage ${zone_args[*]}"
  "$bin/hsts-coverage" "${zone_args[@]}" && status=0 || status=$?
  [ "$status" -eq 1 ]
done
