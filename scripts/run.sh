#!/usr/bin/env bash
# The main job, from a fresh machine: set up, then describe every bundled sample image.
# (Once the analysis lands, this becomes the batch analysis writing results/ with a table and figures.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p results
.venv/bin/stemlayers info sample_images/*.hspy sample_images/*.tif sample_images/*.emd "$@" \
  | tee results/sample_images_info.txt
