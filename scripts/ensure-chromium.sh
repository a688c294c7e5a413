#!/usr/bin/env bash
# Make Debian's headless Chromium available for the HTML-report browser tests.
# Without root or apt the tests that need it skip with a reason (CI requires them).
set -u
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null 2>&1 && exit 0
done
SUDO=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && SUDO="sudo -n" || {
    echo "ensure-chromium: not root and no sudo; browser tests will skip" >&2; exit 0; }
fi
command -v apt-get >/dev/null 2>&1 || { echo "ensure-chromium: no apt-get; browser tests will skip" >&2; exit 0; }
echo "ensure-chromium: installing Debian chromium (once)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || true
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
  || echo "ensure-chromium: apt-get install chromium failed; browser tests will skip" >&2
exit 0
