# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test lint setup clean

demo:
	@scripts/setup.sh
	.venv/bin/bench demo

test: lint
	@HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 .venv/bin/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

# ruff (lint) and mypy (types, under the polyglue import name) gate the tests.
lint:
	@scripts/setup.sh dev
	.venv/bin/ruff check benchmarks langkits speech tests perf
	@scripts/typecheck.sh

setup:
	@scripts/setup.sh dev

clean:
	rm -rf .venv runs .pytest_cache .typecheck .mypy_cache
