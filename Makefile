# A thin wrapper over CMake. `make` builds everything into build/ and the Python
# extension in place (python/vindex/_vindex*.so), `make test` builds and runs
# every test (C through ctest, Python through pytest), `make check-sanitize`
# runs the C tests under ASan + UBSan in build-asan/.
BUILD ?= build
JOBS ?= $(shell nproc)
# The interpreter with Debian's numpy and pytest (another python3 may come first
# on PATH).
PYTHON ?= /usr/bin/python3

.PHONY: all build python test check-sanitize check-tsan demo install clean

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

check-sanitize:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVINDEX_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS)

# The concurrency tests (tests/c/test_concurrency.c, test_threads.c) under
# ThreadSanitizer in build-tsan/; any report fails the run.
TSAN_TESTS = test_concurrency test_threads
check-tsan:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVINDEX_TSAN=ON
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS)
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --test-dir build-tsan --output-on-failure -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

demo: build
	./$(BUILD)/vindex_flat_demo

PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-tsan
