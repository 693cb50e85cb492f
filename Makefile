# The README's two commands: `make demo` and `make test`. Everything else hangs off `install`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?=

.PHONY: install demo test serve clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(VENV)/bin/mediasearch demo --host $(HOST) --port $(PORT) $(if $(DATA),--data $(DATA))

serve: install
	$(VENV)/bin/mediasearch serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .mediasearch .pytest_cache
