# lockout — the two commands:
#   make demo   set everything up and run the complete local lock-out demo
#   make test   set everything up and run the whole test suite (ASan+UBSan, ctest)
# Other targets: make build (release binaries in build/bin), make dist (portable tarball in dist/,
# docs/DIST.md), make fuzz SECONDS=300, make format.

PRESET ?= asan
SECONDS ?= 60
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian 12 packages (ARCHITECTURE §7). Installed only when missing.
DEPS := cmake ninja-build g++ clang libclang-rt-14-dev pkg-config ccache openssl \
        libssl-dev libcbor-dev libsecp256k1-dev nlohmann-json3-dev libboost-dev \
        libboost-system-dev libabsl-dev libcli11-dev libspdlog-dev libgtest-dev libgmock-dev \
        libbenchmark-dev clang-format clang-tidy qemu-system-x86

.PHONY: deps kernel configure test build dist demo fuzz format clean

deps:
	@missing=$$(for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Debian's kernel, unpacked (not installed) for images booted by `lockout run-enclave`.
kernel: deps
	scripts/fetch-kernel.sh build/kernel

configure: deps
	cmake --preset $(PRESET)

test: configure kernel
	cmake --build --preset $(PRESET) -j $(JOBS)
	ctest --preset $(PRESET) -j $(JOBS)

build: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)
	@echo "binaries: $$(ls build/bin | tr '\n' ' ')"

dist: build
	@scripts/dist.sh

demo: build
	@scripts/demo.sh

fuzz: deps
	fuzz/run.sh $(SECONDS)

format:
	find src tests fuzz bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf build dist
