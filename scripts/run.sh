#!/usr/bin/env bash
# The main job, from a fresh machine: set up, then analyse every bundled sample image: columns, atomic
# planes, the spacing profile and the TiN strain check, written to results/ as JSON reports and figures.
# (The batch command with its results table arrives with the verdicts.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p results
for image in sample_images/*.hspy sample_images/*.tif sample_images/*.emd; do
  name=$(basename "${image%.*}")
  .venv/bin/stemlayers analyze "$image" --json "results/$name.json" --figure "results/$name.png" \
    | tee "results/$name.txt"
done
echo "wrote results/*.json (reports), results/*.png (figures) and results/*.txt (tables)"
