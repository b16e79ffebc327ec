# Two commands a user needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.netray-installed
SAMPLE := docs/sample/netray-sample.onnx

.PHONY: setup demo test lint typecheck pytest bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml core/pyproject.toml viewer/pyproject.toml $(PLUGINS) tests/requirements.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The one-distribution layout before contract 1.0 was called netray too: drop it first.
	$(BIN)/python -m pip uninstall -q -y netray 2>/dev/null || true
	# One resolver run, so tests/requirements.txt pins torch to the CPU build before any
	# plugin's optional range could pull a newer (CUDA) one.
	$(BIN)/python -m pip install -q -r tests/requirements.txt -e core -e viewer $(foreach p,$(PLUGINS),-e $(dir $(p)))
	# onnx2torch (ONNX gradients) declares torchvision, which cannot import beside torch's CPU build
	# and which it needs only for two detection ops: installed without its dependencies.
	$(BIN)/python -m pip install -q --no-deps onnx2torch==1.5.15
	touch $(STAMP)

demo: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ]; then \
		$(BIN)/netray open $(SAMPLE); \
	else \
		echo "No display found: writing a snapshot of the sample model to netray-sample.png instead"; \
		QT_QPA_PLATFORM=offscreen $(BIN)/netray open $(SAMPLE) --snapshot netray-sample.png && echo "wrote netray-sample.png"; \
	fi

lint: setup
	$(BIN)/ruff check core viewer plugins tests bench tools

typecheck: setup
	$(BIN)/mypy core/netray viewer/netray_viewer $(patsubst %/__init__.py,%,$(wildcard plugins/*/netray_*/__init__.py))

pytest: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

test: lint typecheck pytest

bench: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/open.py

clean:
	rm -rf $(VENV) build *.egg-info
