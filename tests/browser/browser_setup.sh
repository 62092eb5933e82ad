#!/usr/bin/env bash
# The browser-test toolchain works end to end: Debian's Chromium, driven by
# playwright-core, loads a page from a real hub on loopback and reads the
# JSON it serves. Fails early and clearly when bootstrap did not install
# Chromium or the npm packages.
. "$(dirname "$0")/../lib.sh"

start_hub
FS_URL="$HUB_URL/healthz" node "$FS_SRC/tests/browser/browser_setup.mjs"
finish
