#!/bin/sh
# fsapp container entrypoint.
#   serve [fsapp serve options]   create/upgrade the schema, render the prompts, then serve
#   jobs                          run `fsapp jobs run` once a minute (docker/jobs-loop.sh)
#   anything else                 an fsapp command, e.g. `retention run --dry-run`
set -eu

# Multiprocess metrics: sample files left by an earlier run of this container would be summed
# into this one's (fs_app/metrics.py). Only the files are removed, never the directory.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -maxdepth 1 -name '*.db' -type f -delete
fi

command="${1:-serve}"
[ "$#" -gt 0 ] && shift
case "$command" in
  serve)
    fsapp init
    fsapp prompts build
    exec fsapp serve "$@"
    ;;
  jobs)
    exec "$(dirname "$0")/jobs-loop.sh" "$@"
    ;;
  *)
    exec fsapp "$command" "$@"
    ;;
esac
