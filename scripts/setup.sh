#!/usr/bin/env bash
# Set up everything stemlayers needs, idempotently: a venv in .venv with the package (and, with --dev,
# the test and napari extras and the real microscope files the tests read), plus, with --gui and when
# run as root on Debian, the X server and Mesa GL libraries the napari tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0; gui=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --gui) gui=1 ;;
    *) echo "usage: scripts/setup.sh [--dev] [--gui]" >&2; exit 2 ;;
  esac
done

if [ "$gui" = 1 ] && ! command -v xvfb-run >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
      xvfb xauth libgl1 libegl1 libgl1-mesa-dri libglib2.0-0 libfontconfig1 libdbus-1-3 \
      libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
      libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-cursor0 libxcb-xkb1 \
      >/dev/null
  else
    echo "warning: xvfb-run is missing and cannot be installed here (needs root and apt-get);" \
         "GUI tests will be skipped" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,napari]"
  # the extra installs the napari plugin as a copy; editable, its source edits show without a reinstall
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e plugins/napari-stemlayers
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
