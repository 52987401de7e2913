# Entry points: `make demo`, `make test`, `make build`. The binary is build/slipway.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DSLIPWAY_WERROR=ON
endif

.PHONY: all build deps test demo demo-down fuzz clean format

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300
	@bash scripts/fuzz.sh

demo: build
	@cd examples/shop && ../../$(BUILD_DIR)/slipway up -d --wait && ../../$(BUILD_DIR)/slipway ps

demo-down:
	@cd examples/shop && ../../$(BUILD_DIR)/slipway down

fuzz: deps
	@bash scripts/fuzz.sh

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	@rm -rf $(BUILD_DIR) build-fuzz
