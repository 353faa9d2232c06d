#!/usr/bin/env bash
# A review render: draw the detected regions (green outlines) instead of masking them, to
# check what the detector finds. Not a redaction. No audio.
#
#   examples/review-outline.sh [INPUT] [OUTPUT.mp4]
set -euo pipefail
cd "$(dirname "$0")/.."
in=${1:-../shared/data/video/short_hamilton_clip.mp4}
out=${2:-target/examples/review.mp4}
mkdir -p "$(dirname "$out")"
export GST_PLUGIN_PATH=$PWD/target/release

gst-launch-1.0 -q \
  filesrc location="$in" ! decodebin ! redactdetect ! \
  redactmask method=outline color=0xff00ff00 line-width=3 padding=0 ! \
  videoconvert ! x264enc speed-preset=veryfast ! mp4mux ! filesink location="$out"
echo "wrote $out"
