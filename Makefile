# lang_assess — two commands: `make demo` and `make test` (see README.md).
# Each sets itself up: a virtual environment in .venv, torch 2.13.0 (CPU wheel) first,
# then the project. Nothing needs installing by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

.PHONY: demo demo-engine test lint bench setup clean system-deps audio lab fonts message-audio

setup: $(STAMP)

# Debian packages the tests need: Chromium for the browser tests (driven by Playwright
# with executable_path=/usr/bin/chromium; never `playwright install`), PostgreSQL, whose
# server the tests start themselves in a temporary directory, and nginx, the proxy in
# front of several page servers (`lang-assess serve --instances N`); Noto fonts, the
# source of the Ethiopic and Arabic subsets the participant page ships (`make fonts`).
system-deps:
	@missing=""; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	test -x /usr/sbin/nginx || missing="$$missing nginx-light"; \
	dpkg -s fonts-noto-core >/dev/null 2>&1 || missing="$$missing fonts-noto-core"; \
	if [ -n "$$missing" ]; then $(APT) update -qq && $(APT) install -y -qq $$missing; fi
	@test -f node_modules/axe-core/axe.min.js -a -f node_modules/@citolab/qti-components/cdn/index.js \
	  || npm ci --no-audit --no-fund --silent

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (py-irt 0.7.1 supports < 3.12); set PYTHON=..."'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first: the CPU wheel on disk; a bare torch requirement could pull a GPU build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/lang-assess demo-data --if-empty
	$(BIN)/lang-assess serve

# the engine on its own: a walk through one test and a 2,000-simulee report
demo-engine: $(STAMP)
	$(BIN)/lang-assess demo

# the psychometricians' notebooks in JupyterLab; a notebook runs in its own folder, so the
# settings point at this checkout's bank and data
lab: $(STAMP)
	LANG_ASSESS_DATA=$(CURDIR)/data LANG_ASSESS_BANK=$(CURDIR)/item_bank/nb \
	  $(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/lang-assess bank validate item_bank/nb
	$(BIN)/lang-assess bank lint item_bank/nb
	$(BIN)/python -m pytest

bench: $(STAMP) system-deps
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/run_all.py

# Synthetic speech for the bank (espeak-ng, Norwegian voice; Opus). The files are
# committed, so the demo and the tests need no TTS; recorded audio replaces them.
audio: $(STAMP)
	@command -v espeak-ng >/dev/null && command -v opusenc >/dev/null || \
	  { $(APT) update -qq && $(APT) install -y -qq espeak-ng opus-tools; }
	$(BIN)/lang-assess bank make-audio item_bank/nb

# The participant page's spoken messages: one clip per catalogue string and language
# (espeak-ng; stand-in voices for Tigrinya and Somali, docs/decisions.md issue 14), and
# its font subsets (Noto, Debian's fonts-noto-core and fonttools). Both are committed:
# rerun after changing a catalogue (`--force` in ARGS redoes every clip).
message-audio: $(STAMP)
	@command -v espeak-ng >/dev/null && command -v opusenc >/dev/null || \
	  { $(APT) update -qq && $(APT) install -y -qq espeak-ng opus-tools; }
	$(BIN)/python -m lang_assess.ui.speech $(ARGS)

fonts: $(STAMP)
	@dpkg -s fonts-noto-core >/dev/null 2>&1 && command -v pyftsubset >/dev/null || \
	  { $(APT) update -qq && $(APT) install -y -qq fonts-noto-core fonttools; }
	$(BIN)/python -m lang_assess.ui.fonts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
