# The production image: the same pinned dependencies as `make install`, static files collected.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml build-constraints.txt README.md ./
COPY revops_gov ./revops_gov
COPY registry ./registry
COPY backlog ./backlog
COPY approvals ./approvals
COPY health ./health
RUN PIP_CONSTRAINT=build-constraints.txt pip install --no-cache-dir .
COPY . .
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0
RUN useradd --create-home revops && mkdir -p /app/var && chown -R revops /app/var
USER revops
EXPOSE 8000
CMD ["honcho", "start", "--port", "8000", "web"]
