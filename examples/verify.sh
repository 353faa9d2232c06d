#!/usr/bin/env bash
# Two face models, as `redact run` runs them: YuNet finds; then a verification pass, a
# second redactdetect with another model (CenterFace) and verify=true, keeps those regions
# and adds only the faces they do not cover (origin "verified"); redacttrack tracks both
# (the verified finds on tracks of their own); one redactmask masks them all. Put the
# verification redactdetect after redactmask instead (and a second redactmask after it)
# to check the masked picture.
#
#   examples/verify.sh [INPUT.jpg] [OUTPUT.jpg]
set -euo pipefail
cd "$(dirname "$0")/.."
in=${1:-../shared/data/faces-dlib/2008_002470.jpg}
out=${2:-target/examples/verified.jpg}
mkdir -p "$(dirname "$out")"
export GST_PLUGIN_PATH=$PWD/target/release

gst-launch-1.0 -q \
  filesrc location="$in" ! decodebin ! videoconvert ! redactdetect ! \
  redactdetect verify=true classes=face face-model=centerface face-threshold=0.2 face-input-scale=1 ! \
  redacttrack ! redactmask ! videoconvert ! jpegenc quality=95 ! filesink location="$out"
echo "wrote $out"
