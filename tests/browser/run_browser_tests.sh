#!/usr/bin/env bash
# Runs the browser tests (tests/browser/*.test.mjs) with node: playwright-core
# drives Debian's /usr/bin/chromium, axe-core checks accessibility.
#
#   run_browser_tests.sh BIN_DIR OUT_DIR
#     BIN_DIR   where web_demo_server is
#     OUT_DIR   where screenshots go
# Environment:
#   CS_BROWSER_NPM       the npm prefix holding node_modules/playwright-core and
#                        node_modules/axe-core (default: <repo>/build/browser,
#                        where `make deps` installs them with npm ci)
#   CS_BROWSER_REQUIRED  1 under `make test`: anything missing fails (exit 1)
#                        instead of skipping (exit 77)
set -u
script_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$script_dir/../.." && pwd)
bin_dir=${1:?usage: run_browser_tests.sh BIN_DIR OUT_DIR}
out_dir=${2:?usage: run_browser_tests.sh BIN_DIR OUT_DIR}
export CS_BROWSER_NPM=${CS_BROWSER_NPM:-$repo/build/browser}

missing() {
  echo "browser tests: $1" >&2
  if [ "${CS_BROWSER_REQUIRED:-0}" = 1 ]; then
    echo "browser tests: failed: make deps should have installed it" >&2
    exit 1
  fi
  echo "browser tests: skipped ($1; \`make deps\` installs it, and \`make test\` runs these tests)" >&2
  exit 77
}

[ -x /usr/bin/chromium ] || missing "/usr/bin/chromium is not installed (Debian package chromium)"
command -v node >/dev/null 2>&1 || missing "node is not on PATH (Debian package nodejs)"
for pkg in playwright-core axe-core; do
  [ -f "$CS_BROWSER_NPM/node_modules/$pkg/package.json" ] || missing "$pkg is not in $CS_BROWSER_NPM/node_modules"
done
if [ ! -x "$bin_dir/web_demo_server" ]; then
  echo "browser tests: $bin_dir/web_demo_server not found; build it first" >&2
  exit 1
fi
mkdir -p "$out_dir"
export CS_WEB_DEMO="$bin_dir/web_demo_server" CS_SCREENSHOT_DIR="$out_dir"
status=0
for test in "$script_dir"/*.test.mjs; do
  node --test-reporter=spec --test "$test" || status=1
done
exit $status
