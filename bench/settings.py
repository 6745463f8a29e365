"""The production settings, plus the bench-only floor views (bench/urls.py)."""

from revops_gov.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
