#!/usr/bin/env bash
# The main job, from a fresh machine: set up, then analyse every bundled sample image in one batch:
# results/sample_images.csv (one row per image: interface class, system, gap, TiN strain verdict) and
# results/sample_images_reports/ (a JSON report and a figure per image).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p results
.venv/bin/stemlayers batch sample_images --out results/sample_images.csv "$@"
