# Everyday commands. The two README commands are bin/run and bin/test; these wrap them.
.PHONY: run test test-quick lint format bench

run:            ## the whole system on SQLite with demo data: web + worker + scheduler
	bin/run

test:           ## install, start throwaway PostgreSQL and Redis, lint, run every test
	bin/test

test-quick:     ## the same without the slow real-process tests
	bin/test -m 'not slow'

lint:           ## ruff (lint and format check); installs the dev tools into .venv if bin/run made it
	bash -c '. bin/lib.sh && ensure_venv dev'
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	bash -c '. bin/lib.sh && ensure_venv dev'
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

bench:          ## benchmarks under bench/ (see docs/performance.md)
	bin/bench
