# Two commands on a fresh machine: `make demo` runs the demo, `make test` the tests. Each does the
# set-up it still needs (Debian packages, npm, the Python venv, the Debian roots, the build) and
# skips what is already there, so a second run goes straight to its work. `make setup` is all of it.
.PHONY: setup system-deps venv roots build launcher test demo bench clean

setup: system-deps node_modules/.package-lock.json venv roots build

# npm ci only when the lock file changed since the last install (npm writes this file).
node_modules/.package-lock.json: package-lock.json package.json
	npm ci
	@touch $@

# Debian packages the tests use: Debian's Python 3 with psycopg2 (the interpreter of the fixture
# extensions that hold PostgreSQL connections), python3-venv (`python3 -m venv` for .venv), procps,
# bubblewrap (bwrap: the sandbox's namespaces), and chromium (the HTML timeline test looks at the
# page in a headless browser; it skips without it). Skipped when already present. The demo's
# Python packages come from PyPI into .venv.
system-deps:
	@if ! /usr/bin/python3 -c 'import psycopg2' 2>/dev/null || ! python3 -m venv --help >/dev/null 2>&1 || ! command -v bwrap >/dev/null || ! command -v chromium >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-psycopg2 python3-venv procps bubblewrap chromium >/dev/null; \
		else \
			echo "note: cannot apt-get here (not Debian, or not root). Install bubblewrap (optional: isolation) and a"; \
			echo "      Python with psycopg2 (needed by the demo and the database tests), then pass it with --python."; \
		fi; \
	fi

# The Python packages tests, fixtures and the demo use (requirements-test.txt, exact pins) in a
# project venv that tests take as --python by default. Skipped while the stamp holds the same file.
# awslambdaric is a wheel on CPython x86_64/aarch64; where pip must build it from source it needs
# cmake, autoconf, libtool and a C++ compiler, installed then.
VENV := .venv
venv:
	@if ! cmp -s requirements-test.txt $(VENV)/requirements.stamp; then \
		rm -rf $(VENV) && python3 -m venv $(VENV) && \
		if ! $(VENV)/bin/pip download -q --only-binary=:all: --no-deps -d $(VENV)/wheel-check "$$(grep '^awslambdaric==' requirements-test.txt)" >/dev/null 2>&1 && \
			command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake autoconf automake libtool make g++ >/dev/null; \
		fi; \
		rm -rf $(VENV)/wheel-check && \
		$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt && \
		cp requirements-test.txt $(VENV)/requirements.stamp; \
	fi

# Minimal Debian roots for --image (debootstrap --variant=minbase), so the client tests also run on
# real Python 3.13 (trixie) and 3.14 (sid); bullseye (glibc 2.31, no Python) runs an extension built
# against this host's newer glibc. At ${XDG_CACHE_HOME:-~/.cache}/lambda-harness/roots/<suite>, a
# contract; skipped when present. Built side by side: ~2 min together on first setup.
roots:
	@# debootstrap once, before the three builds: side by side they would race for apt's lock.
	@if ! command -v debootstrap >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; \
	fi
	@.ci/build-root trixie python3 python3.13 & a=$$!; \
	.ci/build-root sid python3 python3.14 & b=$$!; \
	.ci/build-root bullseye & c=$$!; \
	wait $$a && wait $$b && wait $$c

# npm run build compiles the TypeScript and, through this Makefile, the launcher: `npm run bench`,
# `npm test` and `npm run demo` wipe dist/ first and would otherwise run on the slower enter.py.
# Rebuilt only when a source changed since the last build (dist/.built is its stamp).
SOURCES := $(shell find harness test bench fixtures -name '*.ts' -o -name '*.c' -o -name '*.h' -o -name '*.py' 2>/dev/null) tsconfig.json package.json Makefile
build: dist/.built
dist/.built: node_modules/.package-lock.json $(SOURCES)
	npm run build
	@# npx lambda-harness finds the package's own bin through node_modules/.bin.
	@mkdir -p node_modules/.bin && ln -sf ../../dist/harness/cli.js node_modules/.bin/lambda-harness
	@touch $@

# The sandbox launcher compiled from harness/isolation/enter.c. Without a C compiler the harness
# runs the same program in Python (enter.py), which costs more per process started. Linked
# statically where libc.a is installed: no dynamic loader, ~1.5-3 ms less per process started.
# The holder (hold.c) is a bwrap sandbox's command and starts its processes; without it the
# sandbox is held by a shell and each process starts through the launcher.
LAUNCHER := dist/harness/isolation/enter
HOLDER := dist/harness/isolation/hold
launcher: $(LAUNCHER) $(HOLDER)
$(LAUNCHER): harness/isolation/enter.c harness/isolation/exec-report.h
	@mkdir -p $(@D)
	@cc -O2 -Wall -static -o $@ $< 2>/dev/null || cc -O2 -Wall -o $@ $< || echo "note: no C compiler; the sandbox launcher runs in Python (enter.py), slower per process"
$(HOLDER): harness/isolation/hold.c harness/isolation/network.c harness/isolation/exec-report.h
	@mkdir -p $(@D)
	@cc -O2 -Wall -static -o $@ $< 2>/dev/null || cc -O2 -Wall -o $@ $< || echo "note: no C compiler; each sandbox process starts through the launcher"

test: setup
	npx tap

demo: system-deps venv build
	node dist/harness/cli.js demo

bench: build
	node dist/bench/run.js

clean:
	rm -rf dist .tap
