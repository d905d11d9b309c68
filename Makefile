# Two commands set everything up on a fresh machine; one runs the demo, one the tests.
.PHONY: setup system-deps build test demo bench clean

setup: system-deps
	npm ci
	npm run build
	@# npx lambda-harness finds the package's own bin through node_modules/.bin.
	mkdir -p node_modules/.bin && ln -sf ../../dist/harness/cli.js node_modules/.bin/lambda-harness

# Debian packages the tests and the demo use: Debian's Python 3 with psycopg2 (the PostgreSQL
# driver the fixtures use) and procps. Skipped when already present.
system-deps:
	@if ! /usr/bin/python3 -c 'import psycopg2' 2>/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-psycopg2 procps >/dev/null; \
	fi

build:
	npm run build

test: build
	npx tap

demo: build
	node dist/harness/cli.js demo

bench: build
	node dist/bench/run.js

clean:
	rm -rf dist .tap
