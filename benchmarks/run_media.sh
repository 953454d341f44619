#!/usr/bin/env bash
# The figures of docs/media.md, from a trained run (default: the default recipe's mobilenet_v2):
# calibration (ECE before/after, unknown threshold, coverage curve) with out-of-class rejection,
# the TTA trade-off (accuracy and images/s with and without flip TTA), and video throughput.
#   bash benchmarks/run_media.sh [RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/results/mobilenet_v2}
DATA=${DATA:-../shared/data/landscapes}
OOC=${OOC:-../shared/data/out-of-class}
OUT=docs/media
mkdir -p "$OUT"
set -x
landrec calibrate "$RUN" "$DATA" --target-accuracy 0.97 --out-of-class "$OOC" --out "$OUT" --json >"$OUT/calibration_cli.json"
landrec evaluate "$RUN" "$DATA" --split test --no-unknown --json >"$OUT/eval_plain.json"
landrec evaluate "$RUN" "$DATA" --split test --no-unknown --tta --json >"$OUT/eval_tta.json"
python benchmarks/bench_video.py --model "$RUN" --out-dir "$OUT"
