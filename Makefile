# CareDesk: `make run` starts the app on demo data, `make test` runs every test. Both install on first use.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export SE_OFFLINE := true

.PHONY: install system-deps run test lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	# torch first, pinned: this takes the CPU wheel, never a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) main.py

# the Debian packages the tests need (browser, OCR, IMAP server): installed when missing, or one clear message
system-deps:
	bash scripts/system-deps.sh ensure

test: system-deps install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check engine ui main.py tests
	$(VENV)/bin/ruff format --check engine ui main.py tests
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) data/runtime tests/artifacts screenshots
