#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up, then pytest (napari tests in a real viewer on a
# virtual X server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev --gui
export MPLBACKEND=Agg
if command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python -m pytest -n 2 "$@"
else
  export QT_QPA_PLATFORM=offscreen
  exec .venv/bin/python -m pytest -n 2 "$@"
fi
