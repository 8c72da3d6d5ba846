# Tandem — the two commands of the README are `make run` and `make test`.
# Both install what they need (Debian packages, npm dependencies, guest artefacts) when missing.
SHELL := /bin/bash
STATE_DIR ?= $(CURDIR)/.tandem
SOCKET ?= $(STATE_DIR)/tandem.sock

.PHONY: setup deps build lint fmt test test-unit test-host run bench clean

setup: deps build
	@scripts/setup-host.sh

deps:
	@scripts/install-packages.sh
	@if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi

build:
	@npx tsc -p tsconfig.json
	@scripts/build-cli.sh
	@scripts/build-helpers.sh
	@scripts/build-ui.sh

lint:
	@npx biome check src test bench scripts
	@npx depcruise --config .dependency-cruiser.cjs src

fmt:
	@npx biome check --write src test bench scripts

test: setup lint
	@scripts/test.sh all

test-unit: build
	@scripts/test.sh unit

test-host: build
	@scripts/test.sh host

run: setup
	@scripts/run-demo.sh "$(STATE_DIR)" "$(SOCKET)"

bench: setup
	@for b in bench/*/run.sh; do echo "== $$b"; $$b; done

clean:
	rm -rf dist build
