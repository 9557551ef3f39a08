# The two commands of the README: `make run` and `make test`. Everything else is a helper.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
# Under ThreadSanitizer: everything that runs threads against shared state (the HTTP server,
# provider swaps, plugin pools, the mock world, the secret stores, the pager's threads; the
# PostgreSQL variants need the server `make test` starts, and run there).
TSAN_TESTS ?= HotSwap*:Plugin*:HttpServer*:*Concurren*:SealedSecret*:JsonSecret*:SlaTest*:EngineSync*:PagerTest.Threads*:*IncidentHook*:EventsSink*:-*/postgres
# The workflow runtime's scheduler, pool, outputs, reporting and status reports (the script
# workers are processes of their own: the sandbox's timing-bound limit tests are not run under
# TSan).
TSAN_WORKFLOW_TESTS ?= RuntimeTest.*:TestRunner*:PackagingTest.*:RuntimeReport*:MetricsListener*:IncidentsTest.*
JOBS ?= $(shell nproc)
# So a clone at another path (CI's) hits ccache: paths relative to the repo, no working dir hashed.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
CMAKE_FLAGS ?=

.PHONY: deps build run test test-asan test-tsan fuzz bench bench-plugins format clean

deps:
	scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/opsorch serve --demo

# The suite runs against a private PostgreSQL cluster too (scripts/pg-test-cluster), stopped
# whatever ctest's outcome; the recipe exits with ctest's status.
define ctest_with_postgres
	url=$$(scripts/pg-test-cluster start $(1)/pg-test) || exit 1; \
	status=0; \
	(cd $(1) && OPSORCH_TEST_POSTGRES_URL=$$url ctest --output-on-failure -j $(JOBS)) || status=$$?; \
	scripts/pg-test-cluster stop $(1)/pg-test || true; \
	exit $$status
endef

test: build
	$(call ctest_with_postgres,$(BUILD))

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOPSORCH_SANITIZE=address,undefined

test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	$(call ctest_with_postgres,$(ASAN_BUILD))

$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPSORCH_SANITIZE=thread

test-tsan: deps $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target opsorch_tests opsorch-plugin-mock \
	  opsorch-fault-plugin opsorch_workflow_tests opsorch_wf_output_tests \
	  opsorch_orchestration_tests opsorch-script-worker
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" $(TSAN_BUILD)/tests/opsorch_tests --gtest_filter='$(TSAN_TESTS)'
	TSAN_OPTIONS=halt_on_error=1 $(TSAN_BUILD)/tests/workflow/runtime/opsorch_workflow_tests \
	  --gtest_filter='$(TSAN_WORKFLOW_TESTS)'
	TSAN_OPTIONS=halt_on_error=1 $(TSAN_BUILD)/tests/workflow/output/opsorch_wf_output_tests
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  $(TSAN_BUILD)/tests/opsorch_orchestration_tests --gtest_filter='Stores/RunbooksTest.*sqlite'

# Every libFuzzer target (tests/fuzz/fuzz_*.cc) for FUZZ_TIME seconds each, one after the other
# (fuzz_decode as always: build-fuzz/corpus plus the seeds in tests/fuzz/corpus). For a number of
# executions per target instead: scripts/fuzz-all --runs N.
FUZZ_TIME ?= 60
fuzz: deps
	CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPSORCH_BUILD_FUZZERS=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	scripts/fuzz-all --build build-fuzz --time $(FUZZ_TIME)

bench: build
	bench/run.sh

bench-plugins: build
	bench/plugins.sh

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz

.PHONY: bench-engine
# Both stores of the incident engine side by side: SQLite and PostgreSQL (a private cluster).
bench-engine: BENCH_STORES ?= sqlite postgres
bench-engine: build
	BENCH_STORES="$(BENCH_STORES)" bench/engine.sh

.PHONY: bench-workflow
bench-workflow: build
	bench/workflow.sh

.PHONY: bench-paging
bench-paging: build
	bench/paging.sh

.PHONY: bench-alertmanager
bench-alertmanager: build
	bench/alertmanager.sh

.PHONY: bench-console
bench-console: build
	bench/console.sh

.PHONY: bench-search
bench-search: build
	bench/search.sh

.PHONY: bench-package
bench-package: build
	bench/package.sh

.PHONY: bench-runbooks
bench-runbooks: build
	bench/runbooks.sh

.PHONY: bench-breach
bench-breach: build
	bench/breach.sh

.PHONY: bench-pg-profile
bench-pg-profile: build
	bench/pg_profile.sh
