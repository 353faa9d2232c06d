#!/usr/bin/env bash
# Pixelate faces (ellipses) and fill plates black in one photo with gst-launch-1.0: two
# redactmask elements, each handling one region type.
#
#   examples/redact-image.sh [INPUT.jpg] [OUTPUT.jpg]
set -euo pipefail
cd "$(dirname "$0")/.."
in=${1:-../shared/data/faces-dlib/2008_002470.jpg}
out=${2:-target/examples/redacted.jpg}
mkdir -p "$(dirname "$out")"
export GST_PLUGIN_PATH=$PWD/target/release

gst-launch-1.0 -q \
  filesrc location="$in" ! decodebin ! redactdetect ! \
  redactmask roi-types=face method=pixelate shape=ellipse ! \
  redactmask roi-types=license-plate method=fill ! \
  videoconvert ! jpegenc quality=95 ! filesink location="$out"
echo "wrote $out"
