#!/usr/bin/env bash
# The same jobs with the `redact` launcher, which also handles images, ZIPs and folders,
# copies audio, strips image metadata, and writes outputs atomically.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT_DIR:-target/examples}
mkdir -p "$out"
redact=target/release/redact

# A video: faces and plates blurred, audio copied.
$redact run ../shared/data/video/short_hamilton_clip.mp4 -o "$out/hamilton.redacted.mp4"
# Detections only, as JSON; then mask from that JSON without detecting again.
$redact detect ../shared/data/faces-dlib/2008_002470.jpg -o "$out/group.json"
$redact run ../shared/data/faces-dlib/2008_002470.jpg -o "$out/group.redacted.jpg" \
  --detections "$out/group.json" --method fill --color 000000
# A folder of photos, pixelated ellipses, mirrored into another folder.
$redact run ../shared/data/faces-dlib -o "$out/faces-dlib.redacted" --method pixelate --shape ellipse
