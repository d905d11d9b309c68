# Two commands on a fresh machine: `make demo` runs the demo, `make test` the tests. Each does the
# set-up it still needs (Debian packages, npm, the Python venv, the Debian roots, the build) and
# skips what is already there, so a second run goes straight to its work. `make setup` is all of it.
.PHONY: setup system-deps venv roots build launcher pyc test demo bench clean

setup: system-deps node_modules/.package-lock.json venv roots build

# npm ci only when the lock file changed since the last install (npm writes this file).
node_modules/.package-lock.json: package-lock.json package.json
	npm ci
	@touch $@

# Debian packages the tests use: Debian's Python 3 with psycopg2 (the interpreter of the fixture
# extensions that hold PostgreSQL connections), python3-venv (`python3 -m venv` for .venv), procps,
# bubblewrap (bwrap: the sandbox's namespaces), gcc and libc6-dev (the sandbox's two C helpers), and chromium (the HTML timeline test looks at the
# page in a headless browser; it skips without it). Skipped when already present. The demo's
# Python packages come from PyPI into .venv.
system-deps:
	@if ! /usr/bin/python3 -c 'import psycopg2' 2>/dev/null || ! python3 -m venv --help >/dev/null 2>&1 || ! command -v bwrap >/dev/null || ! command -v cc >/dev/null || ! command -v chromium >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-psycopg2 python3-venv procps bubblewrap gcc libc6-dev chromium >/dev/null; \
		else \
			echo "note: cannot apt-get here (not Debian, or not root). Install a C compiler (cc), bubblewrap (optional: isolation)"; \
			echo "      and a Python with psycopg2 (needed by the demo and the database tests), then pass it with --python."; \
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

# npm run build compiles the TypeScript and, through this Makefile, the two C helpers.
# Rebuilt only when a source changed since the last build (dist/.built is its stamp).
SOURCES := $(shell find harness test bench fixtures -name '*.ts' -o -name '*.c' -o -name '*.h' -o -name '*.py' 2>/dev/null) tsconfig.json package.json Makefile
build: dist/.built
dist/.built: node_modules/.package-lock.json $(SOURCES)
	npm run build
	@# npx lambda-harness finds the package's own bin through node_modules/.bin.
	@mkdir -p node_modules/.bin && ln -sf ../../dist/harness/cli.js node_modules/.bin/lambda-harness
	@touch $@

# The sandbox's two C helpers: the holder (hold.c), a bwrap sandbox's command that starts its
# processes, and plain mode's launcher (enter.c). Linked statically where libc.a is installed (no
# dynamic loader: ~1.5-3 ms less per process started, and the npm package runs them anywhere on
# its architecture). Both are required: without a C compiler the build stops here, saying so.
LAUNCHER := dist/harness/isolation/enter
HOLDER := dist/harness/isolation/hold
CC ?= cc
launcher: $(LAUNCHER) $(HOLDER)
$(LAUNCHER) $(HOLDER): dist/harness/isolation/%: harness/isolation/%.c harness/isolation/exec-report.h harness/isolation/network.c harness/isolation/hold-children.c
	@command -v $(CC) >/dev/null || { echo "error: no C compiler ($(CC)) to build the sandbox helpers; on Debian/Ubuntu: apt-get install gcc libc6-dev" >&2; exit 1; }
	@mkdir -p $(@D)
	@$(CC) -O2 -Wall -static -o $@ $< 2>/dev/null || $(CC) -O2 -Wall -o $@ $<

# The runtime client's bytecode, compiled here as pip compiles a package it installs: its processes
# never write it (bootstrap.py sets dont_write_bytecode: /var/task is read-only on Lambda), and
# compiling it at every runtime start cost ~19 ms of CPU. checked-hash: valid whatever the files'
# times (npm pack resets them); an edited source is compiled afresh, never run stale. For each
# Python 3 on PATH and Debian's; an interpreter of another version compiles from source as before.
PYC_PACKAGE := harness/runtimes/python/lambda_harness_ric
pyc:
	@for python in python3 /usr/bin/python3; do \
		command -v $$python >/dev/null && $$python -m compileall -q --invalidation-mode checked-hash $(PYC_PACKAGE) >/dev/null || true; \
	done

test: setup
	npx tap

demo: system-deps venv build
	node dist/harness/cli.js demo

bench: build
	node dist/bench/run.js

clean:
	rm -rf dist .tap
