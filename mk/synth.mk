# Scene synthesizer targets (included by the top Makefile).
#   make synth-deps     install the Debian packages the source bank is rendered from (needs root / sudo)
#   make synth-bank     render the source bank once into the cache (platformdirs, or $STEREOFIX_BANK)
#   make synth-bench    scenes per second on one core at the training size
#   make synth-sheet    docs/contact_sheet.png
#   make synth-test     tests/test_synth.py
#   make synth-export   SYNTH_N scenes of the held-out test split as mp4 + manifest.json in SYNTH_OUT

SYNTH_PY ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
SYNTH_APT_PACKAGES := libmysofa1 flite espeak-ng fluidsynth fluid-soundfont-gm ffmpeg
SYNTH_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYNTH_OUT ?= bench_out/synth_test
SYNTH_N ?= 48
SYNTH_SEED ?= 20240501

.PHONY: synth-deps synth-bank synth-bench synth-sheet synth-test synth-export

synth-deps:
	$(SYNTH_SUDO) apt-get update
	$(SYNTH_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(SYNTH_APT_PACKAGES)

synth-bank:
	$(SYNTH_PY) -m stereofix.synth.bank

synth-bench: synth-bank
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 0 $(SYNTH_PY) -m stereofix.synth.bench 300

synth-sheet: synth-bank
	$(SYNTH_PY) benchmarks/contact_sheet.py --out docs/contact_sheet.png

synth-test:
	$(SYNTH_PY) -m pytest -q tests/test_synth.py

synth-export: synth-bank
	$(SYNTH_PY) -c "from stereofix.synth import export_scenes; print(export_scenes('$(SYNTH_OUT)', $(SYNTH_N), $(SYNTH_SEED), 'test'))"
