# The two commands of the README: `make serve` and `make test`.
.PHONY: serve test setup

setup:
	scripts/setup.sh

serve: setup
	.venv/bin/reportqa serve

test:
	scripts/setup.sh --test
	.venv/bin/python -m pytest -q
