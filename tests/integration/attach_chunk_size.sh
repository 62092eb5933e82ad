#!/usr/bin/env bash
# attach_chunk_size.sh - the agent sizes its chunks to the link (issue 19):
# about four seconds of what the chunks before it measured, from 32 KiB
# at the start, within 16 KiB and the hub's 1 MiB. On loopback the chunks
# grow to the hub's limit; through a relay capped at 32,000 B/s they stay
# near 4 s of that (128,000 B); FIELDSYNC_ATTACH_CHUNK fixes the size.
# The sizes are read from the agent's trace (FIELDSYNC_TRACE_DIR).
source "$(dirname "$0")/../lib.sh"

start_hub
publish_photo_form 4000000
mkpng() { "${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize "$@"; }
# patch_sizes DIR: the bytes of each PATCH the agent's trace names, in order.
patch_sizes() { sed -n 's/^blob PATCH [0-9a-f]* \([0-9]*\)$/\1/p' "$1/pushes.log" | tr '\n' ' '; }
max_of() { tr ' ' '\n' | sort -n | tail -n 1; }

# ---- loopback: the chunks grow to the hub's limit ----------------------
mkpng "$T/big.png" 3000000
new_agent fast
H=$(record_photo_held fast "$T/big.png")
mkdir "$T/fast.trace"
FIELDSYNC_FILE_BATCH=0 FIELDSYNC_TRACE_DIR="$T/fast.trace" agent fast sync --quiet
sizes=$(patch_sizes "$T/fast.trace")
echo "loopback PATCH sizes: $sizes"
check "loopback: the first chunk is 32 KiB" "$(cut -d' ' -f1 <<<"$sizes")" 32768
check "loopback: the chunks grow to the hub's 1 MiB" "$(max_of <<<"$sizes")" 1048576
check "loopback: the file is whole at the hub" "$(sha256sum "$T/blobs/$H" | cut -c1-64)" "$H"

# ---- a link of 32,000 B/s: about four seconds of it --------------------
: "${FS_PROXY:?FS_PROXY must name the faultproxy binary}"
rel_trap
start_proxy --rate 32000
mkpng "$T/slow.png" 600000
new_agent slow
H=$(record_photo_held slow "$T/slow.png")
sqlite3 "$T/slow/agent.db" "UPDATE meta SET value='$PROXY_URL' WHERE key='hub_url'"
mkdir "$T/slow.trace"
FIELDSYNC_FILE_BATCH=0 FIELDSYNC_TRACE_DIR="$T/slow.trace" agent slow sync --quiet
sizes=$(patch_sizes "$T/slow.trace")
echo "32,000 B/s PATCH sizes: $sizes"
largest=$(max_of <<<"$sizes")
check "32,000 B/s: the chunks grow past the first 32 KiB" \
  "$([ "$largest" -gt 32768 ] && echo yes || echo "no ($largest)")" yes
check "32,000 B/s: no chunk past 5 s of the link (160,000 B)" \
  "$([ "$largest" -le 160000 ] && echo yes || echo "no ($largest)")" yes
check "32,000 B/s: the file is whole at the hub" "$(sha256sum "$T/blobs/$H" | cut -c1-64)" "$H"
stop_proxy

# ---- FIELDSYNC_ATTACH_CHUNK fixes the size -----------------------------
mkpng "$T/fixed.png" 200000
new_agent fixed
H=$(record_photo_held fixed "$T/fixed.png")
mkdir "$T/fixed.trace"
FIELDSYNC_ATTACH_CHUNK=50000 FIELDSYNC_FILE_BATCH=0 FIELDSYNC_TRACE_DIR="$T/fixed.trace" \
  agent fixed sync --quiet
check "FIELDSYNC_ATTACH_CHUNK=50000: every chunk but the last is 50,000 B" \
  "$(patch_sizes "$T/fixed.trace")" "50000 50000 50000 50000 "
check "... and the file is whole at the hub" "$(sha256sum "$T/blobs/$H" | cut -c1-64)" "$H"
finish
