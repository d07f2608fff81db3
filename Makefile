# conn-drain: two commands matter to a newcomer (see README.md):
#   make demo   installs, builds the plugin, and runs a short scenario in the local host
#   make test   installs, builds, lints, type-checks and runs every test
.PHONY: setup system-deps build demo test lint bench fuzz kit-wasmplugin clean

NPM_STAMP := node_modules/.package-lock.json
ASSEMBLY := $(shell find assembly -name '*.ts') asconfig.json

setup: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# Real parts the tests run (registry, skopeo, ...): installed with apt only when missing.
system-deps:
	bash scripts/install-system-deps.sh
	bash scripts/install-e2e-deps.sh

build: setup build/plugin.wasm
	@node -e 'const s=require("fs").statSync("build/plugin.wasm").size; console.log("build/plugin.wasm: " + s + " bytes (" + (s/1024).toFixed(1) + " KiB)")'

build/plugin.wasm: $(ASSEMBLY) $(NPM_STAMP)
	npm run --silent build

demo: build
	npx tsx scripts/demo.ts

lint: setup
	npx biome check .
	npx tsc -p tsconfig.json --noEmit

test: system-deps build lint
	npx vitest run

# Benchmarks: timings side by side with the no-op plugin, and executed Wasm instructions and
# allocations of the no-op, commit 845b441 (built once in a temporary worktree, cached in
# build/bench-cache) and the current build; under ten minutes on 2 cores. Writes docs/benchmarks.md.
bench: build
	npx tsx bench/run.ts

# Hardening campaigns at full scale (under ten minutes on 2 cores); report in build/fuzz-report.json.
fuzz: build
	npx tsx fuzz/run.ts

# The kit's WasmPlugin is the CLI's output for the kit's config (tests/kit/manifests.test.ts checks).
kit-wasmplugin: setup
	npx tsx scripts/kit-wasmplugin.ts

clean:
	rm -rf build
