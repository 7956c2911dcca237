# A thin wrapper over CMake. `make` builds everything into build/ and the Python
# extension in place (python/vindex/_vindex*.so), `make test` builds and runs
# every test (C through ctest, Python through pytest), `make check-sanitize`
# runs the C tests under ASan + UBSan in build-asan/.
BUILD ?= build
JOBS ?= $(shell nproc)
# The interpreter with Debian's numpy and pytest (another python3 may come first
# on PATH).
PYTHON ?= /usr/bin/python3

.PHONY: all build python test check-sanitize check-tsan check-valgrind fuzz-smoke demo install clean

all: build

build: python
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

# The Python extension, built in place so that `PYTHONPATH=python $(PYTHON)`
# imports vindex; setuptools' objects go under $(BUILD)/.
python:
	$(PYTHON) setup.py -q build_ext --inplace -j $(JOBS) \
	  --build-temp $(BUILD)/python-temp --build-lib $(BUILD)/python-lib

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	PYTHONPATH=python $(PYTHON) -m pytest -q tests/python
	VINDEX_CLI=$(BUILD)/vindex PYTHONPATH=python $(PYTHON) -m pytest -q tests/cli

# ASan + UBSan over the C tests (build-asan/, leaks checked by LeakSanitizer),
# then the Python and command-line tests: the extension is built with the same
# sanitizers into build-asan/python-lib/ and Debian's python runs with libasan
# preloaded (the interpreter is not instrumented, so leak checking is off there).
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-sanitize:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVINDEX_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS)
	CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  $(PYTHON) setup.py -q build_ext -j $(JOBS) \
	  --build-temp build-asan/python-temp --build-lib build-asan/python-lib
	cp python/vindex/*.py build-asan/python-lib/vindex/
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) PYTHONPATH=build-asan/python-lib \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/python
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 VINDEX_CLI=build-asan/vindex \
	  PYTHONPATH=python $(PYTHON) -m pytest -q -p no:cacheprovider tests/cli

# The C tests under valgrind memcheck (build/): any error, or a definite or
# indirect leak, fails. Every C test runs, in parallel, in small-data mode
# (VINDEX_TEST_SMALL=1, see tests/c/testutil.h: smaller data, iteration counts
# and sampled positions; every family, operation and error path still
# reached), since valgrind runs code 50-150x slower. Valgrind also emulates
# each lane of an FMA instruction through a helper that saves and restores
# MXCSR (about 1000x slower), so vindex's kernels run at the scalar level
# (VINDEX_SIMD) and OpenBLAS on its AVX kernels (OPENBLAS_CORETYPE; with its
# FMA ones test_ivf_sketch took 270 s instead of 20). The AVX2 kernel tables
# still run under valgrind: test_kernels, test_pq, test_sq, test_fastscan and
# test_binary compare every level the CPU has with scalar, whatever VINDEX_SIMD.
# VALGRIND_SKIP="test_a test_b" leaves tests out (none by default).
VALGRIND_SKIP ?=
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full \
  --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --suppressions=$(CURDIR)/tests/valgrind.supp
check-valgrind: build
	@tests=$$(cd $(BUILD) && ls test_* | grep -vxF "$$(echo $(VALGRIND_SKIP) | tr ' ' '\n')"); \
	echo "valgrind: $$tests" | tr '\n' ' '; echo; \
	echo "$$tests" | VINDEX_TEST_SMALL=1 VINDEX_SIMD=scalar OPENBLAS_CORETYPE=Sandybridge xargs -P $(JOBS) -I{} sh -c \
	  'cd $(BUILD) && s=$$(date +%s) && $(VALGRIND) --log-file=valgrind-{}.log ./{} >/dev/null 2>&1 \
	   && echo "valgrind: {} clean ($$(($$(date +%s) - s)) s)" \
	   || { echo "valgrind: {} FAILED"; cat valgrind-{}.log; exit 1; }'

# The concurrency tests (tests/c/test_concurrency.c, test_threads.c) under
# ThreadSanitizer in build-tsan/; any report fails the run.
TSAN_TESTS = test_concurrency test_threads
check-tsan:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVINDEX_TSAN=ON
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS)
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --test-dir build-tsan --output-on-failure -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

# Each libFuzzer target in fuzz/ for FUZZ_SECONDS from its corpus in
# fuzz/corpus/<name>/ (clang, ASan + UBSan, build-fuzz/). New inputs go to
# build-fuzz/work/, never into the repository. A crash stops with the input in
# build-fuzz/crashes/: fix the bug, then add the input to the corpus as
# fuzz/corpus/<name>/crash-<what> so test_fuzz_<name> replays it forever.
FUZZ_SECONDS ?= 60
FUZZERS = $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_FLAGS = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -malloc_limit_mb=64 \
  -rss_limit_mb=2048 -print_final_stats=1
fuzz-smoke:
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DVINDEX_FUZZ=ON -DVINDEX_BUILD_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZERS))
	@mkdir -p build-fuzz/crashes
	@for t in $(FUZZERS); do \
	  mkdir -p build-fuzz/work/$$t; \
	  echo "fuzz-smoke: $$t for $(FUZZ_SECONDS) s"; \
	  ./build-fuzz/fuzz_$$t $(FUZZ_FLAGS) -artifact_prefix=build-fuzz/crashes/$$t- \
	    build-fuzz/work/$$t fuzz/corpus/$$t > build-fuzz/fuzz-$$t.log 2>&1 \
	  || { tail -60 build-fuzz/fuzz-$$t.log; echo "fuzz-smoke: $$t FAILED (input in build-fuzz/crashes/)"; exit 1; }; \
	  grep -E "^(Done|stat::number_of_executed_units)" build-fuzz/fuzz-$$t.log; \
	done

demo: build
	./$(BUILD)/vindex_flat_demo

PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-tsan build-fuzz
