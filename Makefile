# Entry points: `make demo`, `make test`, `make build`. The binary is build/slipway.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DSLIPWAY_WERROR=ON
endif

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

# Then the build and its tests; the unit tests of SANITIZE_MODULES under ASan + UBSan
# (scripts/sanitize.sh; the modules whose tests have run clean under it); the fuzzers.
# clang-tidy (`make tidy`) and TSan (`make sanitize`) are not part of it yet: the tree has
# not been run clean under them.
SANITIZE_MODULES ?= base net http
test: check build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300
	@SANITIZE_JOBS=$(JOBS) bash scripts/sanitize.sh address $(SANITIZE_MODULES)
	@bash scripts/fuzz.sh

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
