# clubsync: thin wrapper over CMake. `make test` and `make demo` work on a
# fresh Debian machine: they install what is missing, build, then run.

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
TEST_BUILD ?= $(BUILD)/asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# `make install` lays the program out under PREFIX, inside DESTDIR if given.
PREFIX     ?= /usr/local
DESTDIR    ?=

# node-llhttp ships llhttp's C sources (the HTTP parser of the web UI);
# chromium is the browser the browser tests drive; libutf8proc-dev is the
# Unicode library of core/text.c.
DEB_PACKAGES = cmake make gcc clang pkg-config libsodium-dev libuv1-dev libmsgpack-dev \
               liblmdb-dev libjansson-dev libutf8proc-dev lmdb-utils node-llhttp chromium groff-base
SHS1_TEST_VERSION = 1.1.1
# The browser tests' npm packages, pinned by tests/browser/package-lock.json.
BROWSER_NPM = $(BUILD)/browser

.PHONY: all deps build install test demo fuzz bench clean

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "clubsync needs these packages; run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@if [ ! -x $(BUILD)/npm/node_modules/.bin/shs1testserver ]; then \
	  echo "Installing the shs1-test conformance suite (npm)"; \
	  mkdir -p $(BUILD)/npm && npm install --silent --no-audit --no-fund --prefix $(BUILD)/npm \
	    shs1-test@$(SHS1_TEST_VERSION) >/dev/null || { echo "npm install shs1-test failed"; exit 1; }; \
	fi
	@if ! cmp -s tests/browser/package-lock.json $(BROWSER_NPM)/package-lock.json || \
	    [ ! -f $(BROWSER_NPM)/node_modules/playwright-core/package.json ] || \
	    [ ! -f $(BROWSER_NPM)/node_modules/axe-core/axe.min.js ]; then \
	  echo "Installing the browser tests' npm packages (npm ci)"; \
	  mkdir -p $(BROWSER_NPM) && cp tests/browser/package.json tests/browser/package-lock.json $(BROWSER_NPM)/ && \
	  (cd $(BROWSER_NPM) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund >/dev/null) || \
	    { echo "npm ci in $(BROWSER_NPM) failed"; exit 1; }; \
	fi

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The program, its man page (clubsync.1), the systemd unit for `serve`
# (clubsync.service) and the sysusers.d entry of its user (README, "Installing").
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# Every test runs under AddressSanitizer and UndefinedBehaviorSanitizer.
test: deps build
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCS_SANITIZE=ON -DCS_WERROR=ON \
	  -DCS_RELEASE_CLUBSYNC=$(abspath $(BUILD))/bin/clubsync >/dev/null
	@cmake --build $(TEST_BUILD) -j$(JOBS)
	cd $(TEST_BUILD) && SHS1_TEST_DIR=$(abspath $(BUILD)/npm) SHS1_TEST_REQUIRED=1 \
	  CS_BROWSER_NPM=$(abspath $(BROWSER_NPM)) CS_BROWSER_REQUIRED=1 \
	  ctest --output-on-failure -j$(JOBS) --timeout 900

demo: deps build
	@bash tools/demo.sh $(BUILD)/bin/clubsync

fuzz:
	@bash tests/fuzz/build_fuzzers.sh $(BUILD)/fuzz

bench: deps build
	@$(BUILD)/bin/clubsync bench --workload club-100k

clean:
	rm -rf $(BUILD)
