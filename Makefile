# Two commands do everything on a fresh clone:
#   make demo   set up, then run `stereofix check` on the shipped examples
#   make test   set up, then run the test suite (what CI runs, via .ci/run)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and pinned: a bare `torch` requirement pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0
DEBS := libmysofa1 flite espeak-ng fluidsynth fluid-soundfont-gm ffmpeg

.PHONY: setup system-deps demo test bank bench clean

$(BIN)/stereofix: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

setup: $(BIN)/stereofix

# Debian packages the synthesizer's source bank and the tests' reference tools need
# (HRTF, speech and instrument synthesizers, the ffmpeg CLI as an independent checker).
system-deps:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

demo: setup
	$(BIN)/stereofix check examples/*.mp4; test $$? -le 3

test: setup system-deps
	$(BIN)/python -m pytest -q -m "not slow" tests

bank: setup system-deps
	$(BIN)/python -m stereofix.synth.bank

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

-include mk/*.mk
