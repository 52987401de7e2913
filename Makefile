# Entry points: `make demo`, `make test`, `make build`. The binary is build/slipway.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DSLIPWAY_WERROR=ON
endif
STEP = bash scripts/step.sh

.PHONY: all build deps check test demo demo-down demo-shop demo-shop-down fuzz sanitize tidy clean format

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The checks that need no build, first: they fail in seconds.
check: deps
	@bash scripts/format.sh --check
	@bash scripts/check-discards.sh

# Then, cheapest first: clang-tidy on the files changed since the commit in .ci/tidy-base (the
# main this work was built on; whoever lands on main records the main they replace there) — a
# whole-tree run costs as much CPU as the build; `make tidy` is that run —, the build, its tests (ctest), every
# module's unit tests under ASan + UBSan, the net and proxy unit tests under TSan, the
# fuzzers. Each step prints its wall and CPU seconds (scripts/step.sh).
# SANITIZE_MODULES and TSAN_MODULES list the modules run under each sanitizer in CI (empty
# SANITIZE_MODULES: every module; empty TSAN_MODULES: no TSan step). Every module runs clean
# under ASan (`make sanitize`); CI runs the ones its time allows (docs/architecture.md).
SANITIZE_MODULES ?= base net http acme keeper promql store telemetry tlsclient flags config deploy engine
TSAN_MODULES ?= net proxy
TIDY_BASE ?= $(shell cat .ci/tidy-base 2>/dev/null || echo HEAD~1)
test: check
	@$(STEP) tidy-changed env TIDY_BUILD_DIR=$(BUILD_DIR) TIDY_JOBS=$(JOBS) TIDY_BASE=$(TIDY_BASE) bash scripts/tidy.sh --changed
	@$(STEP) build $(MAKE) --no-print-directory build
	@$(STEP) ctest sh -c 'cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300'
	@$(STEP) asan env SANITIZE_JOBS=$(JOBS) bash scripts/sanitize.sh address $(SANITIZE_MODULES)
	@$(if $(strip $(TSAN_MODULES)),$(STEP) tsan env SANITIZE_JOBS=$(JOBS) bash scripts/sanitize.sh thread $(TSAN_MODULES),true)
	@$(STEP) fuzz bash scripts/fuzz.sh

# ASan + UBSan over every module's unit tests, then TSan over net and proxy.
sanitize: deps
	@SANITIZE_JOBS=$(JOBS) bash scripts/sanitize.sh address
	@SANITIZE_JOBS=$(JOBS) bash scripts/sanitize.sh thread

tidy: deps
	@TIDY_BUILD_DIR=$(BUILD_DIR) TIDY_JOBS=$(JOBS) bash scripts/tidy.sh

# The stack example (examples/stack): PostgreSQL in a named volume, an API on db:5432, a
# report container built FROM scratch with busybox-static (copied into its build context).
demo: build
	@cp -f /bin/busybox examples/stack/report/busybox
	@cd examples/stack && ../../$(BUILD_DIR)/slipway up -d --wait && ../../$(BUILD_DIR)/slipway ps

demo-down:
	@cd examples/stack && ../../$(BUILD_DIR)/slipway down

# The shop example (examples/shop): replicas, a one-shot job, a worker, deploys.
demo-shop: build
	@cd examples/shop && ../../$(BUILD_DIR)/slipway up -d --wait && ../../$(BUILD_DIR)/slipway ps

demo-shop-down:
	@cd examples/shop && ../../$(BUILD_DIR)/slipway down

fuzz: deps
	@bash scripts/fuzz.sh

format:
	@bash scripts/format.sh

clean:
	@rm -rf $(BUILD_DIR) build-fuzz build-asan build-tsan
