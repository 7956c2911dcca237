# A thin wrapper over CMake. `make` builds everything into build/, `make test`
# builds and runs every test, `make check-sanitize` runs the C tests under
# ASan + UBSan in build-asan/.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all build test check-sanitize demo install clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

check-sanitize:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVINDEX_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS)

demo: build
	./$(BUILD)/vindex_flat_demo

PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan
