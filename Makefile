# Two entry points for a fresh machine:
#   make app   -> installs what the app needs into .venv and starts it on the embedded dataset,
#                 on 127.0.0.1 only (make app HOST=0.0.0.0 serves other machines; see docs/serving.md)
#   make test  -> installs the dev tools (and Debian's chromium for the browser test) and runs the tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
HOST   ?= 127.0.0.1

.PHONY: app test bench smoke clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Under CI=true (as .ci/run is run) a failed install stops `make test`: the browser test would fail
# anyway, and CI must not pass with the app untested in a browser. Elsewhere it warns and goes on.
/usr/bin/chromium:
	@echo "installing Debian's chromium for the browser test"
	@if (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) && [ -x $@ ]; then :; \
	elif case "$$(printf '%s' "$$CI" | tr 'A-Z' 'a-z')" in ""|0|false|no) false;; esac; then \
	  echo "error: could not install chromium (apt-get install -y chromium, as root); CI=$$CI needs it" >&2; exit 1; \
	else \
	  echo "warning: could not install chromium; the browser test will be skipped (it fails under CI=true)"; \
	fi

app: $(VENV)/.runtime
	$(BIN)/python -m repcam_app.launch --host $(HOST) --port $(PORT)

test: $(VENV)/.dev /usr/bin/chromium
	$(BIN)/python -m pytest -q

bench: $(VENV)/.dev
	$(BIN)/python -m bench

smoke: $(VENV)/.dev
	$(BIN)/python -m bench --smoke

clean-venv:
	rm -rf $(VENV)
