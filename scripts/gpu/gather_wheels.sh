#!/usr/bin/env bash
# Gather, on a machine with internet access, every wheel a GPU machine without
# internet needs to run the full presets: the packages in requirements-gpu.txt
# (CPython 3.12, manylinux x86-64). The book's own package runs from the
# checkout (run_full.sh puts code/ on the path).
#
#   scripts/gpu/gather_wheels.sh [WHEEL_DIR]      # default: .wheels/ in the repository root
#
# Carry WHEEL_DIR and the repository to the GPU machine, then use run_full.sh there.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/.wheels}
python=${PYTHON:-python3}
mkdir -p "$dest"
grep -v '^\s*#' "$(dirname "$0")/requirements-gpu.txt" | grep -v '^\s*$' | while read -r req; do
  "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d "$dest" "$req"
done
ls -1 "$dest"
