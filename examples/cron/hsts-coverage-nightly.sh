#!/bin/sh
# Nightly HSTS coverage scan, for cron or a systemd timer: keeps dated NDJSON reports, compares
# each with the one before (`hsts-coverage diff`), and speaks only when a host newly breaks.
#
#   hsts-coverage-nightly.sh DOMAIN...        (or DOMAIN=example.com in the environment)
#
# Scan options come from the environment: every option of `hsts-coverage scan` has its
# HSTS_COVERAGE_* variable (HSTS_COVERAGE_RESOLVER, HSTS_COVERAGE_TIMEOUT, ...). The report file is
# the wrapper's, so HSTS_COVERAGE_OUTPUT and HSTS_COVERAGE_APPEND are ignored. Its own settings:
#
#   REPORT_DIR   where the reports go, one per day as YYYY-MM-DD.ndjson (/var/lib/hsts-coverage);
#                use one directory per set of domains
#   KEEP_DAYS    how many reports to keep, newest first: with one run a day, days (30; at least 2)
#   MAIL_TO      mail the diff to this address, with mail(1), or sendmail if there is no mail
#   WEBHOOK_URL  POST the diff as JSON (`hsts-coverage diff --format json`) here, with curl
#   SCANNER      the hsts-coverage command (hsts-coverage, found on PATH)
#
# With neither MAIL_TO nor WEBHOOK_URL the diff goes to stdout, which cron mails to its MAILTO
# and systemd keeps in the journal. Nothing else is printed on success; errors go to stderr.
#
# Exit status: 0 nothing newly breaks (or this is the first report), 1 something newly breaks
# (and was notified), 4 the notification failed (the diff is printed instead), 2 a bad setting,
# 5 the scan failed (a bug, a full disk: no report is kept for the day); any other: the exit
# code of the scan or the diff that failed (130/143: interrupted).
set -eu

if [ "$#" -eq 0 ]; then
  set -- "${DOMAIN:?usage: $0 DOMAIN... (or set DOMAIN)}"
fi
REPORT_DIR=${REPORT_DIR:-/var/lib/hsts-coverage}
KEEP_DAYS=${KEEP_DAYS:-30}
SCANNER=${SCANNER:-hsts-coverage}
MAIL_TO=${MAIL_TO:-}
WEBHOOK_URL=${WEBHOOK_URL:-}
unset HSTS_COVERAGE_OUTPUT HSTS_COVERAGE_APPEND

case $KEEP_DAYS in
  '' | *[!0-9]*) echo "$0: KEEP_DAYS must be a number, not '$KEEP_DAYS'" >&2; exit 2 ;;
esac
if [ "$KEEP_DAYS" -lt 2 ]; then
  echo "$0: KEEP_DAYS must be at least 2 (the new report and the one before)" >&2
  exit 2
fi

work=$(mktemp -d)
new=
scanning=
# Interrupted while scanning: a partial report would be a false baseline for tomorrow's diff.
# shellcheck disable=SC2317 # called by the traps below
on_signal() { # exit status
  if [ -n "$scanning" ]; then
    rm -f -- "$new"
    echo "$0: the scan was interrupted; no report kept" >&2
  fi
  exit "$1"
}
trap 'rm -rf "$work"' EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# The newest dated report other than $1 (globs sort; YYYY-MM-DD sorts by date in any locale).
previous_report() {
  found=
  for report in "$REPORT_DIR"/????-??-??.ndjson; do
    if [ -e "$report" ] && [ "$report" != "$1" ]; then
      found=$report
    fi
  done
  printf '%s' "$found"
}

# Keep the newest KEEP_DAYS reports.
prune() {
  set -- "$REPORT_DIR"/????-??-??.ndjson
  [ -e "$1" ] || return 0
  excess=$(($# - KEEP_DAYS))
  while [ "$excess" -gt 0 ]; do
    rm -f -- "$1"
    shift
    excess=$((excess - 1))
  done
}

send_mail() { # subject < body
  if command -v mail >/dev/null 2>&1; then
    mail -s "$1" "$MAIL_TO"
  elif command -v sendmail >/dev/null 2>&1; then
    { printf 'To: %s\nSubject: %s\n\n' "$MAIL_TO" "$1"; cat; } | sendmail -i -- "$MAIL_TO"
  else
    echo "$0: neither mail nor sendmail is installed: cannot mail $MAIL_TO" >&2
    return 2
  fi
}

post_webhook() { # previous new
  diffed=0
  "$SCANNER" diff --format json "$1" "$2" >"$work/diff.json" || diffed=$?
  [ "$diffed" -le 1 ] || return "$diffed"
  curl --fail --silent --show-error --max-time 60 -H 'Content-Type: application/json' \
    --data-binary "@$work/diff.json" -o /dev/null "$WEBHOOK_URL"
}

notify() { # previous new domain...
  old=$1 current=$2
  shift 2
  if [ -z "$MAIL_TO" ] && [ -z "$WEBHOOK_URL" ]; then
    cat "$work/diff.txt"
    return 0
  fi
  failed=0
  if [ -n "$MAIL_TO" ]; then
    send_mail "hsts-coverage: newly breaking under HSTS: $*" <"$work/diff.txt" || failed=1
  fi
  if [ -n "$WEBHOOK_URL" ]; then
    post_webhook "$old" "$current" || failed=1
  fi
  return "$failed"
}

mkdir -p "$REPORT_DIR"
new="$REPORT_DIR/$(date +%F).ndjson"
previous=$(previous_report "$new")

status=0
scanning=yes
"$SCANNER" scan "$@" --output "$new" --quiet >/dev/null || status=$?
scanning=
case $status in
  0 | 1 | 3) ;; # SAFE, NOT SAFE, INCONCLUSIVE: a complete report
  130 | 143)
    rm -f -- "$new"
    echo "$0: the scan was interrupted; no report kept" >&2
    exit "$status"
    ;;
  5)
    # A failed run (a bug, a full disk): hsts-coverage kept the partial report aside and left
    # $new alone; never compared, never a baseline.
    echo "$0: the scan failed (exit code 5); its partial report is not compared" >&2
    exit 5
    ;;
  *)
    echo "$0: the scan failed with exit code $status" >&2
    exit "$status"
    ;;
esac
prune

if [ -z "$previous" ]; then
  exit 0 # the first report: nothing to compare it with yet
fi
status=0
"$SCANNER" diff --format table "$previous" "$new" >"$work/diff.txt" || status=$?
case $status in
  0) exit 0 ;;
  1)
    if ! notify "$previous" "$new" "$@"; then
      echo "$0: could not send the notification; the diff follows" >&2
      cat "$work/diff.txt"
      exit 4
    fi
    exit 1
    ;;
  *)
    echo "$0: hsts-coverage diff failed with exit code $status" >&2
    exit "$status"
    ;;
esac
