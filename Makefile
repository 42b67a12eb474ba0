# The README's two commands: `make run` and `make test`. Each installs what is missing first.
BUILD ?= build
PYTHON := .venv/bin/python
SHELL := /bin/bash
# ccache hits across clones: paths relative to the clone, and no working directory in the hash.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: setup build example run test unit-test py-test soak-test sanitize-test tsan-test fuzz-test \
	format-check bench-scaling bench-placement bench-pipeline bench-stages bench-compiled \
	bench-reload bench-perf-analyzer clean

# SETUP_FLAGS=--build-only: no test tools (the container image's build stage).
setup:
	@scripts/setup.sh $(SETUP_FLAGS) >/dev/null

TORCH_PREFIX = $$($(PYTHON) -c 'import torch; print(torch.utils.cmake_prefix_path)')
CONFIGURE = cmake -S . -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$(TORCH_PREFIX)"

build: setup
	@$(CONFIGURE) -B $(BUILD) >/dev/null
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

# ASan + UBSan: the unit and integration tests against an instrumented build.
# LibTorch's own allocations live as long as the process, so leak checking is off; a failed
# allocation returns null (as malloc does) so that the out-of-memory test sees LibTorch's error.
UBSAN_ENV = UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(abspath tests/ubsan.supp)
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 $(UBSAN_ENV)
sanitize-test: setup
	@$(CONFIGURE) -B build-asan -DTANDEM_SANITIZE=address,undefined >/dev/null
	@cmake --build build-asan
	cd build-asan && $(SANITIZER_ENV) ctest --output-on-failure
	$(SANITIZER_ENV) TANDEM_BIN=$(abspath build-asan)/tandem $(PYTHON) -m pytest -q tests/integration

# TSan: the unit tests where threads meet (the queue and its workers; the engine's registry:
# pipelines under concurrent requests, reloads and unloads under load; Pipeline* are the config
# checks, single-threaded, kept for their parsing), and the integration tests where requests,
# batches, pipeline runs, drains, model loads and gRPC calls cross threads, against an
# instrumented server. One intra-op thread keeps LibTorch's (uninstrumented) thread pool out of
# the picture; tests/tsan.supp leaves out what TSan reports inside gRPC's uninstrumented
# libraries, whose locks it cannot see. Allocations may fail, as under ASan above.
TSAN_SUPPRESSIONS = suppressions=$(abspath tests/tsan.supp)
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1:$(TSAN_SUPPRESSIONS) \
	OMP_NUM_THREADS=1
TSAN_UNIT = DynamicBatcher*:ModelQueue*:BatchTensors*:Pipeline*:BringTo*:Histogram*:EngineRegistry*
TSAN_PY = tests/integration/test_scheduling.py tests/integration/test_pipelines.py \
	tests/integration/test_metrics.py tests/integration/test_lifecycle.py \
	tests/integration/test_model_control.py tests/integration/test_grpc.py
tsan-test: setup
	@$(CONFIGURE) -B build-tsan -DTANDEM_SANITIZE=thread >/dev/null
	@cmake --build build-tsan
	$(TSAN_ENV) build-tsan/tests/unit_tests --gtest_filter='$(TSAN_UNIT)'
	$(TSAN_ENV) TANDEM_BIN=$(abspath build-tsan)/tandem $(PYTHON) -m pytest -q $(TSAN_PY)

# libFuzzer on the decoders of client input, from the seed corpora in tests/fuzz/corpus (copied,
# so the checked-in seeds stay as they are). A fixed seed and run count make `make test`
# deterministic; explore longer with e.g. `make fuzz-test FUZZ_RUNS=-1 FUZZ_SECONDS=600`.
# A crash leaves its input in build-fuzz/ and fails the run.
FUZZ_RUNS ?= 300000
FUZZ_SECONDS ?= 120
FUZZERS = v2_request npy image compressed_body grpc_request
fuzz-test: setup
	@cmake -S . -B build-fuzz -G Ninja -DTANDEM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build build-fuzz
	@for f in $(FUZZERS); do \
	  rm -rf build-fuzz/corpus-$$f && cp -r tests/fuzz/corpus/$$f build-fuzz/corpus-$$f && \
	  echo "fuzzing $$f: $(FUZZ_RUNS) runs, at most $(FUZZ_SECONDS) s" && \
	  $(UBSAN_ENV) build-fuzz/tests/fuzz/$${f}_fuzzer -seed=1 -runs=$(FUZZ_RUNS) \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -artifact_prefix=build-fuzz/$$f- -print_final_stats=1 build-fuzz/corpus-$$f 2>&1 | \
	    grep -E "^(stat::number_of_executed_units|stat::peak_rss|==|SUMMARY|Done)" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# Sustained overload with bad clients (60 s); prints the RSS curve, writes build/soak.json.
soak-test: build
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) -m pytest -q -s tests/soak

test: format-check unit-test py-test soak-test sanitize-test tsan-test fuzz-test

# Simulated-GPU scaling (about 3 minutes); writes bench/results/ and docs/performance.md.
bench-scaling: build
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) bench/scaling/run.py

# Pipeline placement on 4 simulated GPUs (about 1 minute); same outputs.
bench-placement: build
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) bench/placement/run.py

# remove_background on the CPU: Tandem against the SageMaker toolkit on TorchServe, TorchServe,
# Ray Serve and the example's handler on gunicorn (installed here into .venv-bench) and the
# in-process limit, then the one-client rounds (about 30 minutes).
bench-pipeline: example
	@scripts/setup.sh --bench >/dev/null
	TANDEM_BIN=$(abspath $(BUILD))/tandem .venv-bench/bin/python bench/pipeline/run.py

# One request at one client, stage by stage: Tandem's steps against the example's handler
# (PIL, torchvision) on the same images (about 3 minutes).
bench-stages: example
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) bench/pipeline/stages.py

# The example's models as AOTInductor packages against TorchScript, same server, side by side,
# as the example configures them and tuned (about 6 minutes on 2 cores, plus about 7 to compile
# the packages the first time).
bench-compiled: example
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) bench/compiled/run.py

# Reloads under load, load time and memory over load/unload cycles (model control, explicit).
bench-reload: example
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) bench/reload/run.py

# perf_analyzer over HTTP and gRPC and wrk on the same HTTP requests, side by side: an identity
# model, the classifier and remove_background (about 12 minutes on 2 cores).
bench-perf-analyzer: example
	TANDEM_BIN=$(abspath $(BUILD))/tandem $(PYTHON) bench/perf_analyzer/run.py

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

# Google style, 100 columns (.clang-format), checked on every test run.
format-check: setup
	@clang-format --dry-run --Werror $$(git ls-files '*.cc' '*.h') && echo "clang-format: clean"

clean:
	rm -rf $(BUILD)
