# Minerwatch: `make run` starts everything on embedded defaults; `make test` runs the suite.
SHELL := /bin/bash
PORT ?= 8000
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: run test install migrate universe lint format bench clean

$(UV):
	@echo "uv not found: installing it with pip"
	python3 -m pip install --user uv || python3 -m pip install --user --break-system-packages uv

install: $(UV)
	@$(UV) sync --frozen --quiet

migrate: install
	@$(UV) run python manage.py migrate --no-input -v 0

universe: migrate
	@$(UV) run python manage.py load_universe

run: universe
	@echo
	@echo "  Minerwatch: http://127.0.0.1:$(PORT)/   (web + live stream + Celery worker + beat; Ctrl-C stops them all)"
	@echo
	@PORT=$(PORT) $(UV) run python -m config.devserver Procfile.dev

test: install
	$(UV) run pytest

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: install
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

clean:
	rm -rf var/broker var/results var/cache var/celerybeat-schedule* var/test-db*
