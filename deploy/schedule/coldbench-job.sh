#!/usr/bin/env bash
# One scheduled coldbench job on a plain machine: build, measure, keep the run in the history,
# publish the site, and alert when the new run's cold starts are slower than the previous run's
# (with profiles in both runs, the alert names the modules whose init time grew most).
#
#   deploy/schedule/coldbench-job.sh        (from cron: see coldbench.cron; run as root, for cgroups)
#
# Jobs never overlap: one that finds the lock held logs it and exits 0. A job that dies halfway
# leaves the history consistent: a run joins results/runs/ only once it has finished, each file
# is written whole and renamed into place, and `coldbench` itself lets one writer in at a time.
#
# Settings (environment):
#   COLDBENCH_HISTORY   history folder                   (results)
#   COLDBENCH_SITE      where the static site is written (site)
#   COLDBENCH_RUNTIMES  runtimes to measure              (all)
#   COLDBENCH_MEMORY    memory sizes, MB                 (128,512,1769)
#   COLDBENCH_PROFILE   1: also profile each configuration's init (run --profile), so that a
#                       regression names the modules that grew; 0: don't  (1)
#   COLDBENCH_ALERT     shell command run on a regression, the comparison on its stdin,
#                       e.g. 'mail -s "coldbench regression" team@example.com'
#   COLDBENCH           the coldbench command            (.venv/bin/coldbench)
# Exit status: 0 done (no regression, or nothing comparable), 3 a regression was found,
# anything else: a step failed (the log says which).
set -uo pipefail
cd "$(dirname "$0")/../.."

history=${COLDBENCH_HISTORY:-results}
site=${COLDBENCH_SITE:-site}
runtimes=${COLDBENCH_RUNTIMES:-all}
memory=${COLDBENCH_MEMORY:-128,512,1769}
coldbench=${COLDBENCH:-.venv/bin/coldbench}
profile=()
[ "${COLDBENCH_PROFILE:-1}" = 1 ] && profile=(--profile)

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) coldbench-job: $*" >&2; }

mkdir -p "$history"
exec 9>>"$history/.job.lock"
if ! flock --nonblock 9; then
  log "another job holds $history/.job.lock; not starting a second one"
  exit 0
fi

log "build"
"$coldbench" build --runtimes "$runtimes" >/dev/null || { log "build failed; nothing measured"; exit 2; }

log "run"
"$coldbench" run --runtimes "$runtimes" --memory "$memory" --history "$history" --quiet "${profile[@]}"
status=$?
# 1: some configuration produced no valid sample; the run is kept all the same (failures are data)
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  log "run failed (exit $status); the history is unchanged"
  exit "$status"
fi

log "publish $site"
"$coldbench" publish "$site" --history "$history" >/dev/null || log "publish failed (the history is kept)"

log "compare latest~1 latest"
comparison=$("$coldbench" compare latest~1 latest --history "$history" --mode cold 2>&1)
status=$?
printf '%s\n' "$comparison"
case "$status" in
  0) log "no regression" ;;
  3)
    log "regression found"
    if [ -n "${COLDBENCH_ALERT:-}" ]; then
      printf '%s\n' "$comparison" | sh -c "$COLDBENCH_ALERT" || log "alert command failed"
    fi
    exit 3 ;;
  *) log "nothing compared (first run, or code, runtime or CPU changed)" ;;
esac
exit 0
