#!/bin/sh
# Run `fsapp jobs run` every FSAPP_JOBS_INTERVAL_S seconds (default 60) until stopped. Every job
# is idempotent and safe on every node at once (fs_app/jobs.py). A successful run touches the
# heartbeat file that the container's health check reads; a failed run does not, so a job that
# keeps failing turns the container unhealthy. SIGTERM during a run lets the run finish first.
set -u
interval="${FSAPP_JOBS_INTERVAL_S:-60}"
heartbeat="${FSAPP_JOBS_HEARTBEAT:-/tmp/fsapp-jobs.heartbeat}"
trap 'echo "jobs-loop: stopping" >&2; exit 0' TERM INT

while :; do
  if fsapp jobs run "$@"; then
    touch "$heartbeat"
  else
    echo "jobs-loop: fsapp jobs run failed with exit code $?" >&2
  fi
  sleep "$interval" &
  wait $!
done
