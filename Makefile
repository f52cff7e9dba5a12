# The two commands are `make book` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0
# Where the CPU-only build of torch comes from when no local wheel is found.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
JB_FLAGS := -W -n --keep-going
# Runs made without an output folder (the chapters' quick presets) keep their results here, keyed by the
# package's sources, data and config: the tests, the book and make sync compute each quick preset once.
export MAXENTRL_RESULT_CACHE ?= $(CURDIR)/.cache/results
# torch picks its CPU kernels by the processor (AVX2, AVX-512, ...), and the sums inside them run in an
# order that depends on the vector width. Chapter 1's bandit learners sample from their own policies, so a
# last-bit difference changes later samples and the quoted digits. The commands pin torch to its AVX2
# kernels, which every x86-64 machine of the last decade has: the pages' numbers are then the same on each.
export ATEN_CPU_CAPABILITY ?= avx2

.PHONY: book test student sync clean help

help:
	@echo "make book     set up .venv, execute every chapter (quick presets), build _build/html, check its pages"
	@echo "make test     set up .venv, run the test suite (chapter notebooks included)"
	@echo "make student  the same book with exercise solutions removed, in _build/student/_build/html"
	@echo "make sync     after editing a chapter: execute it and regenerate its Colab notebooks"
	@echo "              (book/*.ipynb, and book/student/*.ipynb without solutions)"

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# A GPU machine gets torch from PyPI; a CPU-only one gets the CPU build
	@# (a local wheel if pip's configuration has one, else PyTorch's CPU index).
	if command -v nvidia-smi >/dev/null 2>&1; then \
	  $(BIN)/pip install -q "$(TORCH)"; \
	else \
	  $(BIN)/pip install -q --no-index --no-deps "$(TORCH)" 2>/dev/null || \
	  $(BIN)/pip install -q --no-deps "$(TORCH)" --index-url $(TORCH_CPU_INDEX); \
	fi
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	MAXENTRL_PROGRESS=0 $(BIN)/python -m pytest

book: $(STAMP)
	MAXENTRL_PROGRESS=0 $(BIN)/jupyter-book build . $(JB_FLAGS)
	$(BIN)/python tools/check_html.py _build/html

student: $(STAMP)
	$(BIN)/python tools/student_edition.py _build/student
	MAXENTRL_PROGRESS=0 $(BIN)/jupyter-book build _build/student $(JB_FLAGS)
	$(BIN)/python tools/check_html.py _build/student/_build/html

sync: $(STAMP)
	$(BIN)/python tools/sync_notebooks.py

clean:
	rm -rf _build .jupyter_cache .cache
