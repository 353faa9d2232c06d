#!/usr/bin/env bash
# Blur faces and plates in an MP4 with plain gst-launch-1.0, keeping the audio as it is
# (not re-encoded) and the original timing. What `redact run clip.mp4` does, spelled out.
#
#   examples/redact-video.sh [INPUT.mp4] [OUTPUT.mp4]
set -euo pipefail
cd "$(dirname "$0")/.."
in=${1:-../shared/data/video/short_hamilton_clip.mp4}
out=${2:-target/examples/redacted.mp4}
mkdir -p "$(dirname "$out")"
export GST_PLUGIN_PATH=$PWD/target/release

gst-launch-1.0 -q \
  filesrc location="$in" ! qtdemux name=demux \
  demux.video_0 ! queue ! decodebin ! redactdetect ! redactmask method=blur strength=high ! \
    videoconvert ! x264enc pass=qual quantizer=18 speed-preset=veryfast ! h264parse ! mp4mux name=mux ! \
    filesink location="$out" \
  demux.audio_0 ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! aacparse ! mux.
echo "wrote $out"
