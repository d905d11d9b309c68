# Two commands set everything up on a fresh machine; one runs the demo, one the tests.
.PHONY: setup system-deps build launcher test demo bench clean

setup: system-deps
	npm ci
	npm run build
	@# npx lambda-harness finds the package's own bin through node_modules/.bin.
	mkdir -p node_modules/.bin && ln -sf ../../dist/harness/cli.js node_modules/.bin/lambda-harness

# Debian packages the tests and the demo use: Debian's Python 3 with psycopg2 (the PostgreSQL
# driver the fixtures use), procps, bubblewrap (bwrap: the sandbox's namespaces), and chromium (the
# HTML timeline test looks at the page in a headless browser; it skips without it). Skipped
# when already present.
system-deps:
	@if ! /usr/bin/python3 -c 'import psycopg2' 2>/dev/null || ! command -v bwrap >/dev/null || ! command -v chromium >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-psycopg2 procps bubblewrap chromium >/dev/null; \
		else \
			echo "note: cannot apt-get here (not Debian, or not root). Install bubblewrap (optional: isolation) and a"; \
			echo "      Python with psycopg2 (needed by the demo and the database tests), then pass it with --python."; \
		fi; \
	fi

# npm run build compiles the TypeScript and, through this Makefile, the launcher: `npm run bench`,
# `npm test` and `npm run demo` wipe dist/ first and would otherwise run on the slower enter.py.
build:
	npm run build

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

test: build
	npx tap

demo: build
	node dist/harness/cli.js demo

bench: build
	node dist/bench/run.js

clean:
	rm -rf dist .tap
