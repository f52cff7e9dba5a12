#!/usr/bin/env bash
# Run one experiment's full preset as a series of bounded commands, each
# resuming the last (for machines that limit how long one command may run).
#
#   scripts/gpu/run_full.sh NAME [RUN_DIR]
#
# Installs the wheels in $WHEELS (default .wheels/) into $SITE (default
# /tmp/maxentrl-site) once, puts this checkout's code/ first on the path, then runs
#   python -m maxentrl.experiments NAME --preset $PRESET --device $DEVICE --out RUN_DIR --time-limit $TIME_LIMIT
# RUN_DIR defaults to data/results/NAME. The command checkpoints and stops
# after $TIME_LIMIT seconds (default 540, so that one call stays within a
# 10-minute limit); run this script again, with the same RUN_DIR, to continue.
# Exit status: 0 the run is finished and its files are in RUN_DIR; 75 not yet
# finished (its checkpoint is in RUN_DIR); anything else is an error.
# $EXPORT, if set, names a folder into which the run's files are copied when
# the command ends, for machines whose disk does not outlive the command.
# $EXTRA holds more options for the experiment (e.g. "--set seeds=16").
set -uo pipefail
name=${1:?usage: run_full.sh NAME [RUN_DIR]}
root=$(cd "$(dirname "$0")/../.." && pwd)
run_dir=${2:-$root/data/results/$name}
wheels=${WHEELS:-$root/.wheels}
site=${SITE:-/tmp/maxentrl-site}
python=${PYTHON:-python3}
cd "$root"
# the book's package from this checkout; the other packages from the carried wheels (installed once)
if ls "$wheels"/*.whl >/dev/null 2>&1 && [ ! -e "$site/.installed" ]; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$wheels"/*.whl \
    && touch "$site/.installed" || { echo "run_full.sh: installing the wheels from $wheels failed" >&2; exit 2; }
fi
export PYTHONPATH="$root/code:$site${PYTHONPATH:+:$PYTHONPATH}"
# provenance names the commit; without a .git folder here, pass it in (MAXENTRL_COMMIT=<sha>)
# shellcheck disable=SC2086
"$python" -m maxentrl.experiments "$name" --preset "${PRESET:-full}" --device "${DEVICE:-cuda}" --seed "${SEED:-0}" \
  --out "$run_dir" --time-limit "${TIME_LIMIT:-540}" --no-progress ${EXTRA:-}
status=$?
if [ -n "${EXPORT:-}" ] && [ -d "$run_dir" ]; then
  mkdir -p "$EXPORT" && cp -p "$run_dir"/* "$EXPORT"/ 2>/dev/null
fi
case $status in
  0) echo "run_full.sh: $name finished; results in $run_dir" ;;
  75) echo "run_full.sh: $name not finished yet; run the same command again to continue" ;;
esac
exit $status
