# The two commands of the README: `make serve` and `make test`.
.PHONY: serve test setup

PORT ?= 8000
HOST ?= 127.0.0.1

setup:
	scripts/setup.sh

serve: setup
	.venv/bin/reportqa serve --host $(HOST) --port $(PORT)

test:
	scripts/setup.sh --test
	.venv/bin/python -m pytest -q
