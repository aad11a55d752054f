# Production image: gunicorn serves the web app; the same image runs the worker, beat and the
# event consumers by overriding the command, e.g.
#   docker run IMAGE celery -A credentials_service worker
#   docker run IMAGE celery -A credentials_service beat
#   docker run IMAGE python manage.py run_event_consumer --topic learning-certificate-lifecycle
FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /venv
COPY requirements/base.txt /tmp/base.txt
RUN /venv/bin/pip install -r /tmp/base.txt

FROM python:3.12-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=credentials_service.settings.production \
    CREDENTIALS_VAR_DIR=/var/lib/credentials \
    STATIC_ROOT=/app/static
RUN groupadd --system app && useradd --system --gid app --home /app app \
    && mkdir -p /var/lib/credentials && chown app:app /var/lib/credentials
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=app:app manage.py ./
COPY --chown=app:app credentials_service ./credentials_service
COPY --chown=app:app apps ./apps
COPY --chown=app:app templates ./templates
# collectstatic needs no secrets or servers; the placeholder key never leaves this build step.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/').status != 200)"
CMD ["gunicorn", "credentials_service.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
