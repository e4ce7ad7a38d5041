# Minerwatch image: one image for web (gunicorn), worker and beat (Celery); see compose.yaml.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    VAR_DIR=/app/var

RUN pip install --no-cache-dir uv

WORKDIR /app
# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python3.12

COPY . .
# Hashed, compressed static files for whitenoise. The key only lets settings load for this step;
# the real one comes from the environment at run time.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-used-at-run-time \
    python manage.py collectstatic --no-input -v 0

RUN useradd --system --uid 10001 --home-dir /app minerwatch \
    && mkdir -p /app/var \
    && chown -R minerwatch /app/var
USER minerwatch

EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
