# Thin wrapper over CMake + ctest. The README's two commands are `make demo` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=
# ctest says only "Skipped": after a run, list each skipped test with the reason it printed,
# and keep ctest's exit status.
JUNIT = Testing/Temporary/junit.xml
SKIPS = rc=$$?; $(CURDIR)/tests/skipped.sh $(JUNIT); exit $$rc

# Debian packages the build, the tests and the benchmarks need. Node.js and npm (for the official
# SDK check) count as present when the commands are, however they were installed.
DEB_PACKAGES = build-essential cmake pkg-config liblua5.4-dev lua5.4 lua-cjson-dev libuv1-dev \
  libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libpcap-dev libexpat1-dev \
  tshark wireshark-common tcpdump lua-check curl valgrind clang libclang-rt-dev ca-certificates time \
  dpkg-dev debootstrap
DEB_COMMANDS = node:nodejs npm:npm

PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all deps build demo test soak test-asan test-valgrind bench bench-serve fuzz lint install package \
  package-check clean

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	for cp in $(DEB_COMMANDS); do \
	  command -v $${cp%%:*} >/dev/null || missing="$$missing $${cp#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages:$$missing" >&2; \
	    echo "install them with: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DPCAPRUN_WERROR=ON

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/pcaprun --emulate --time-scale 0.01 scripts/multi_colo_campaign.lua

# The 1,000-capture fault soak (label soak) runs in `make soak`, not here.
test: build
	cd $(BUILD) && ctest --output-on-failure --output-junit $(JUNIT) -j $(JOBS) -LE soak $(CTEST_ARGS); $(SKIPS)

soak: build
	cd $(BUILD) && ctest --output-on-failure -L soak $(CTEST_ARGS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DPCAPRUN_WERROR=ON -DPCAPRUN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure --output-junit $(JUNIT) \
	  -j $(JOBS) -LE 'nosan|soak' $(CTEST_ARGS); $(SKIPS)

test-valgrind: build
	cd $(BUILD) && PCAPRUN_VALGRIND=1 ctest --output-on-failure -j $(JOBS) -L valgrind $(CTEST_ARGS)

bench: build
	./tests/bench/run.sh $(BUILD)

bench-serve: build
	./tests/bench/serve.sh $(BUILD)

# Installs under PREFIX; DESTDIR stages it (a packager's root), e.g. make install DESTDIR=/tmp/stage
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package (CPack, Depends from dpkg-shlibdeps) in $(BUILD); package-check installs it
# with dpkg -i into a fresh Debian 12 root (debootstrap) and runs it there (tests/package).
package: build
	cd $(BUILD) && cpack -G DEB

package-check: package
	./tests/package/deb_check.sh $(BUILD)

fuzz: deps
	./tests/fuzz/run.sh

lint:
	luacheck --std lua54 -q stdlib scripts tests/lua tests/bench tests/integration/lib bindings

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
