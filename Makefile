# Day-to-day commands; each one works from a fresh clone (it bootstraps first).
.PHONY: up test fmt lint typecheck bench bootstrap

bootstrap:
	scripts/bootstrap --dev

up:
	scripts/up

test:
	scripts/test

fmt: bootstrap
	.venv/bin/ruff format src events projections agents tests bench migrations
	.venv/bin/ruff check --fix src events projections agents tests bench migrations

lint: bootstrap
	.venv/bin/ruff check src events projections agents tests bench migrations
	.venv/bin/ruff format --check src events projections agents tests bench migrations

typecheck: bootstrap
	scripts/typecheck

bench: bootstrap
	scripts/services
	.venv/bin/python -m bench.eventstore
