# The two commands of the README: `make serve` and `make test`.
.PHONY: serve test setup screenshots

PORT ?= 8000
HOST ?= 127.0.0.1

setup:
	scripts/setup.sh

serve: setup
	.venv/bin/reportqa serve --host $(HOST) --port $(PORT)

test:
	scripts/setup.sh --test
	.venv/bin/python -m pytest -q

# Refresh the committed page screenshots (desktop and phone) from the browser test.
screenshots:
	scripts/setup.sh --test
	REPORTQA_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest -q tests/test_browser.py
