# The README's two commands: `make run` and `make test`. Each installs what is missing first.
BUILD ?= build
PYTHON := .venv/bin/python

.PHONY: setup build example run test unit-test py-test format format-check bench-scaling bench-placement clean

setup:
	@scripts/setup.sh >/dev/null

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_PREFIX_PATH="$$($(PYTHON) -c 'import torch; print(torch.utils.cmake_prefix_path)')" >/dev/null
	@cmake --build $(BUILD)

example: build
	@$(PYTHON) examples/classifier/export.py
	@$(PYTHON) examples/remove_background/export.py

# Serves the example repository on port 8080 until Ctrl-C.
run: example
	@scripts/run_example.sh $(BUILD)/tandem examples/repository 8080 --default-model classifier

unit-test: build
	cd $(BUILD) && ctest --output-on-failure

py-test: build
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) -m pytest -q tests/integration tests/e2e tests/gpu

test: format-check unit-test py-test

# Simulated-GPU scaling (about 3 minutes); writes bench/results/ and docs/performance.md.
bench-scaling: build
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) bench/scaling/run.py

# Pipeline placement on 4 simulated GPUs (about 1 minute); same outputs.
bench-placement: build
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) bench/placement/run.py

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

# STYLE.md: Google style, 100 columns (.clang-format), checked on every test run.
format-check: setup
	@clang-format --dry-run --Werror $$(git ls-files '*.cc' '*.h') && echo "clang-format: clean"

clean:
	rm -rf $(BUILD)
