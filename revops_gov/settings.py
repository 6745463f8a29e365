"""Settings for RevOps Governance, one module, read from the environment.

With nothing set, the app runs on an embedded default that needs no server: a SQLite file,
Celery on kombu's filesystem transport, a local-memory cache and console email. Setting
DATABASE_URL, CELERY_BROKER_URL, REDIS_URL/CACHE_URL and EMAIL_URL switches to PostgreSQL,
Redis and SMTP; nothing else changes between the two.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
import xstatic.pkg.bootstrap
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("REVOPS_VAR_DIR", default=str(BASE_DIR / "var")))
# The test suite runs in several processes at once (pytest-xdist): each process, and the workers
# and servers it starts, gets its own var/ (SQLite file, file cache, broker folders) and its own
# cache key prefix, so one process clearing its cache never empties another's.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if XDIST_WORKER:
    VAR_DIR = VAR_DIR / f"xdist-{XDIST_WORKER}"
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# A development key is built in so `make run` works with nothing set; `check --deploy`
# rejects it, so production must set DJANGO_SECRET_KEY.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-insecure-dev-only-key-set-DJANGO_SECRET_KEY-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_htmx",
    "django_celery_beat",
    "revops_gov",
    "registry",
    "approvals",
    "backlog",
    "health",
    "discovery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "revops_gov.oidc.RecheckWithProvider",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "revops_gov.db_routers.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "revops_gov.urls"
WSGI_APPLICATION = "revops_gov.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "revops_gov.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers run beside one writer, and
    # IMMEDIATE transactions queue writers instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not memory, so a real Celery worker process can read what a test wrote.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    # A new PostgreSQL connection costs ~5 ms; keep them for a minute and check them first.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A read replica (PostgreSQL streaming replication, RDS/Cloud SQL read replica): the dashboard,
# lists, review pages and exports read from it; writes, the permit check, the API and everything
# about who you are stay on the primary (revops_gov/db_routers.py).
_replica_url = env.str("DATABASE_REPLICA_URL", default="")
if _replica_url:
    DATABASES["replica"] = {
        **env.db_url_config(_replica_url),
        "CONN_MAX_AGE": DATABASES["default"].get("CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["revops_gov.db_routers.ReplicaRouter"]
REVOPS_REPLICA_VIEWS = frozenset(
    {
        "dashboard:dashboard",
        "registry:automation-list",
        "registry:automation-export",
        "registry:datafield-list",
        "registry:changeevent-list",
        "backlog:board",
        "backlog:export",
        "decisions:history",
        "health:finding-list",
        "health:automation-runs",
        "health:automation-runs-export",
        "reviews:list",
        "reviews:detail",
        "reviews:export",
        "reviews:trend",
    }
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "revops_gov.User"

# --- Cache ----------------------------------------------------------------------------------
_cache_url = env.str("CACHE_URL", default="") or env.str("REDIS_URL", default="")
if _cache_url.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            # Django's RedisCache, but a Redis that is down is a cache miss, logged, not an error:
            # reads fall back to the database (revops_gov/cache_backends.py).
            "BACKEND": "revops_gov.cache_backends.ResilientRedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="revops") + (f"-{XDIST_WORKER}" if XDIST_WORKER else ""),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
elif _cache_url:
    CACHES = {"default": env.cache_url_config(_cache_url)}
else:
    # The embedded default is a file cache in var/, not local memory: web, worker and beat are
    # separate processes, and what one changes (a revoked token, a hold on an automation) must
    # not be served stale by another.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }

# --- Auth and sessions ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"


# --- Company sign-in (OpenID Connect; revops_gov/oidc.py, README "Company sign-in") ---------
def _group_map(value: str, *, keys: dict | None = None) -> dict:
    """ "key=group a,group b;key2=group c" → {key: [groups]} (keys renamed through `keys`)."""
    result: dict = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        if "=" not in part:
            raise ImproperlyConfigured(f"Expected key=group,group in {value!r}, found {part!r}.")
        key, groups = (x.strip() for x in part.split("=", 1))
        if keys is not None:
            if key not in keys:
                raise ImproperlyConfigured(f"Unknown role {key!r} in REVOPS_OIDC_ROLE_GROUPS: use {sorted(keys)}.")
            key = keys[key]
        result.setdefault(key, []).extend(g.strip() for g in groups.split(",") if g.strip())
    return result


_ROLE_KEYS = {"admin": "revops_admin", "revops_admin": "revops_admin", "manager": "manager", "viewer": "viewer"}
REVOPS_OIDC = {
    "ISSUER": env.str("REVOPS_OIDC_ISSUER", default=""),
    "CLIENT_ID": env.str("REVOPS_OIDC_CLIENT_ID", default=""),
    "PROVIDER_NAME": env.str("REVOPS_OIDC_PROVIDER_NAME", default="your company account"),
    "GROUPS_CLAIM": env.str("REVOPS_OIDC_GROUPS_CLAIM", default="groups"),
    "ROLE_GROUPS": _group_map(env.str("REVOPS_OIDC_ROLE_GROUPS", default=""), keys=_ROLE_KEYS),
    # group → team: "sales=Sales EMEA,Sales US;cs=Customer Success" read as {group: team}
    "TEAM_GROUPS": {
        group: team
        for team, groups in _group_map(env.str("REVOPS_OIDC_TEAM_GROUPS", default="")).items()
        for group in groups
    },
    "MANAGER_CLAIM": env.str("REVOPS_OIDC_MANAGER_CLAIM", default=""),
    "PASSWORD_LOGIN": env.str("REVOPS_PASSWORD_LOGIN", default="everyone"),
    "BREAK_GLASS_USERS": env.list("REVOPS_BREAK_GLASS_USERS", default=[]),
    "TIMEOUT": env.int("REVOPS_OIDC_TIMEOUT_SECONDS", default=10),
}
if REVOPS_OIDC["PASSWORD_LOGIN"] not in ("everyone", "break-glass"):
    raise ImproperlyConfigured("REVOPS_PASSWORD_LOGIN is 'everyone' or 'break-glass'.")
if REVOPS_OIDC["ISSUER"] and not (REVOPS_OIDC["CLIENT_ID"] and REVOPS_OIDC["ROLE_GROUPS"]):
    raise ImproperlyConfigured("REVOPS_OIDC_ISSUER needs REVOPS_OIDC_CLIENT_ID and REVOPS_OIDC_ROLE_GROUPS too.")
AUTHENTICATION_BACKENDS = ["revops_gov.oidc.PasswordBackend", "revops_gov.oidc.CompanySignInBackend"]
OIDC_RP_CLIENT_ID = REVOPS_OIDC["CLIENT_ID"]
OIDC_RP_CLIENT_SECRET = env.str("REVOPS_OIDC_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = env.str("REVOPS_OIDC_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("REVOPS_OIDC_SCOPES", default="openid email profile")
# Endpoints come from the issuer's discovery document; set these only to override it.
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("REVOPS_OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("REVOPS_OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("REVOPS_OIDC_USERINFO_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("REVOPS_OIDC_JWKS_ENDPOINT", default="")
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # the hint for RP-initiated logout
OIDC_TIMEOUT = REVOPS_OIDC["TIMEOUT"]
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env.int("REVOPS_OIDC_RECHECK_SECONDS", default=15 * 60)
OIDC_OP_LOGOUT_URL_METHOD = "revops_gov.oidc.provider_logout_url"
LOGIN_REDIRECT_URL_FAILURE = "/login/refused/"
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Security (production values come from the environment; `check --deploy` is clean) ------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=14 * 24 * 3600)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Load balancers probe /healthz over plain HTTP inside the network: never redirect it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
BEHIND_TLS_PROXY = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Rate limits (django-ratelimit) count in the default cache; the client address is the proxy's
# last X-Forwarded-For entry when behind the TLS proxy, else REMOTE_ADDR (revops_gov.ratelimits).
RATELIMIT_IP_META_KEY = "revops_gov.ratelimits.client_ip"
RATELIMIT_FAIL_OPEN = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- I18N -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (from installed packages; never a CDN) ------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request until collectstatic has run
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str("STATICFILES_STORAGE", default="whitenoise.storage.CompressedManifestStaticFilesStorage")
    },
}

# --- Email ----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="RevOps Governance <revops-governance@localhost>")

# --- REST framework and OpenAPI -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "revops_gov.api_auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["revops_gov.roles.ReadOrGovern"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "revops_gov.api.StandardPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "revops_gov.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")
SPECTACULAR_SETTINGS = {
    "TITLE": "RevOps Governance API",
    "DESCRIPTION": (
        "The API CRM integrations use to document automations, read the data dictionary and record "
        "change events. Authenticate with `Authorization: Bearer <token>`; an integration token sees "
        "only the automations of its own system."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "revops_gov.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RiskTierEnum": "registry.choices.RiskTier",
        "SystemEnum": "revops_gov.choices.System",
        "DataFieldStatusEnum": "registry.choices.DataFieldStatus",
        "LifecycleStatusEnum": "registry.choices.LifecycleStatus",
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "processed").mkdir(parents=True, exist_ok=True)
    # Producer and consumer share one folder: the web process writes, the worker reads.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Every periodic task is declared here, once; beat copies it into the database where admins
# can see and change it (django-celery-beat).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "revops-heartbeat": {"task": "revops_gov.tasks.heartbeat", "schedule": timedelta(minutes=5)},
    # Re-enqueue every delivery whose next try is due (nothing is lost with a dead worker).
    "outbox-sweep": {"task": "outbox.sweep", "schedule": timedelta(minutes=1)},
}
# Each app adds its periodic tasks in its own block below, so apps never edit the same lines.

# backlog:
CELERY_BEAT_SCHEDULE |= {}

# approvals (lifecycle, packets):
CELERY_BEAT_SCHEDULE |= {}

# approvals: the decision queue (escalation, expiry, digests, webhook delivery):
CELERY_BEAT_SCHEDULE |= {
    "decisions-escalate-overdue": {"task": "decisions.escalate_overdue", "schedule": timedelta(minutes=5)},
    "decisions-expire": {"task": "decisions.expire_due", "schedule": timedelta(minutes=5)},
    "decisions-digest": {"task": "decisions.send_digests", "schedule": timedelta(hours=1)},
    "decisions-outbox-sweep": {"task": "decisions.outbox_sweep", "schedule": timedelta(minutes=1)},
}


def daily_at(value: str, *, plus_minutes: int = 0) -> crontab:
    """A crontab for HH:MM (+ minutes) every day, in CELERY_TIMEZONE (= TIME_ZONE): a fixed time of
    day, not "24 hours after beat last started"."""
    try:
        hour, minute = (int(part) for part in value.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(f"A time of day is HH:MM, e.g. 06:30; got “{value}”.") from None
    total = (hour * 60 + minute + plus_minutes) % (24 * 60)
    return crontab(hour=total // 60, minute=total % 60)


# health's daily tasks run at this local time of day (TIME_ZONE), a few minutes apart.
HEALTH_DAILY_AT = env.str("REVOPS_HEALTH_DAILY_AT", default="06:00")


# health (run events, monitors):
CELERY_BEAT_SCHEDULE |= {
    "health-monitors": {"task": "health.tasks.monitors_run", "schedule": timedelta(minutes=10)},
    "health-alerts": {"task": "health.tasks.findings_alert", "schedule": timedelta(minutes=15)},
    # Daily, at REVOPS_HEALTH_DAILY_AT: the purge first, then the digest of what the night found.
    "health-runs-purge": {"task": "health.tasks.runs_purge", "schedule": daily_at(HEALTH_DAILY_AT)},
    # Daily, before the purge: this month's and the next months' partitions of health_runevent
    # (PostgreSQL; a no-op on SQLite), and any month that landed in the DEFAULT partition split out.
    "health-runs-partitions": {
        "task": "health.tasks.runs_partitions_prepare",
        "schedule": daily_at(HEALTH_DAILY_AT, plus_minutes=-10),
    },
    "health-digest": {"task": "health.tasks.findings_digest", "schedule": daily_at(HEALTH_DAILY_AT, plus_minutes=15)},
}

# health (monthly review, reminders):
CELERY_BEAT_SCHEDULE |= {
    # Daily: creates last month's review once (the unique month), re-computes it for late events.
    "health-monthly-review": {
        "task": "health.reviews.monthly_review",
        "schedule": daily_at(HEALTH_DAILY_AT, plus_minutes=5),
    },
    # Daily: one reminder per overdue review cycle, an escalation after the grace period, one
    # digest per person per run (health.reminders).
    "health-review-reminders": {
        "task": "health.tasks.review_reminders_send",
        "schedule": daily_at(HEALTH_DAILY_AT, plus_minutes=10),
    },
}

# --- History -------------------------------------------------------------------------------
# Change reasons are sentences people write ("material change (rule): moved back to in design…"),
# not labels: keep them whole.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# --- Application settings -------------------------------------------------------------------
REVOPS = {
    # How long an API token lookup is cached (revocation clears it at once).
    "TOKEN_CACHE_SECONDS": env.int("REVOPS_TOKEN_CACHE_SECONDS", default=60),
    "CSV_IMPORT_MAX_BYTES": env.int("REVOPS_CSV_IMPORT_MAX_BYTES", default=2 * 1024 * 1024),
    "CSV_IMPORT_MAX_ROWS": env.int("REVOPS_CSV_IMPORT_MAX_ROWS", default=5000),
    "SITE_URL": env.str("REVOPS_SITE_URL", default="http://127.0.0.1:8000"),
    # Attempts per window ("10/10m"); over it, a 429 that says when to retry (revops_gov.ratelimits).
    "RATE_LIMITS": {
        "login-username": env.str("REVOPS_RATE_LOGIN_USERNAME", default="10/10m"),
        "login-ip": env.str("REVOPS_RATE_LOGIN_IP", default="50/10m"),
        "token-create": env.str("REVOPS_RATE_TOKEN_CREATE", default="20/h"),
    },
}
# Each app adds its settings in its own block below, so apps never edit the same lines.

# The outbox (revops_gov.outbox): every email and alert webhook is a delivery row, sent by a worker.
# A failed attempt is retried after BASE seconds, doubling up to MAX; after MAX_ATTEMPTS the
# delivery is marked failed (an admin can resend it from /deliveries/).
REVOPS |= {
    # Slack (a Slack app's bot token for chat.postMessage; its signing secret for the buttons)
    # and Microsoft Teams (Workflows webhooks; Office 365 connectors are retired).
    "SLACK_BOT_TOKEN": env.str("REVOPS_SLACK_BOT_TOKEN", default=""),
    "SLACK_SIGNING_SECRET": env.str("REVOPS_SLACK_SIGNING_SECRET", default=""),
    "SLACK_API_URL": env.str("REVOPS_SLACK_API_URL", default="https://slack.com/api/"),
    "CHAT_TIMEOUT_SECONDS": env.float("REVOPS_CHAT_TIMEOUT_SECONDS", default=10),
    "OUTBOX_BACKOFF_BASE_SECONDS": env.float("REVOPS_OUTBOX_BACKOFF_BASE_SECONDS", default=60),
    "OUTBOX_BACKOFF_MAX_SECONDS": env.float("REVOPS_OUTBOX_BACKOFF_MAX_SECONDS", default=3600),
    "OUTBOX_MAX_ATTEMPTS": env.int("REVOPS_OUTBOX_MAX_ATTEMPTS", default=8),
    # A claimed delivery not finished within this lease is sent again by the sweep (a dead worker).
    "OUTBOX_LEASE_SECONDS": env.float("REVOPS_OUTBOX_LEASE_SECONDS", default=120),
    "OUTBOX_WEBHOOK_TIMEOUT_SECONDS": env.float("REVOPS_OUTBOX_WEBHOOK_TIMEOUT_SECONDS", default=10),
    # The Celery queue deliveries go to (None: the default queue).
    "OUTBOX_QUEUE": env.str("REVOPS_OUTBOX_QUEUE", default="") or None,
}

# registry (review cadence):
REVOPS |= {
    # The longest review cadence each risk tier allows, in days (registry.cadence): high monthly,
    # as the guide's "review automation health monthly"; medium quarterly; low twice a year.
    "REVIEW_CADENCE_MAX_DAYS": {
        "high": env.int("REVOPS_REVIEW_CADENCE_MAX_DAYS_HIGH", default=30),
        "medium": env.int("REVOPS_REVIEW_CADENCE_MAX_DAYS_MEDIUM", default=90),
        "low": env.int("REVOPS_REVIEW_CADENCE_MAX_DAYS_LOW", default=180),
    },
}

# backlog:
REVOPS |= {
    # Risk reduction (revenue at risk per year) from which a low-volume candidate is not "avoid".
    "BACKLOG_MATERIAL_RISK_REDUCTION": env.int("REVOPS_BACKLOG_MATERIAL_RISK_REDUCTION", default=50_000),
    # Cards per board column (the CSV export and the API list have them all).
    "BACKLOG_BOARD_COLUMN_SIZE": env.int("REVOPS_BACKLOG_BOARD_COLUMN_SIZE", default=25),
}
# The four decision-matrix questions share one answer set: one name in the OpenAPI schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {"MatrixAnswerEnum": "backlog.choices.Answer"}

# approvals (lifecycle, packets, the permit check):
REVOPS |= {
    # The live gate: share of shadow runs where the automation agreed with the human, over at least
    # this many shadow decisions of the current version (low tier may skip shadow).
    "SHADOW_AGREEMENT_BAR": env.float("REVOPS_SHADOW_AGREEMENT_BAR", default=0.95),
    "SHADOW_MIN_DECISIONS": env.int("REVOPS_SHADOW_MIN_DECISIONS", default=30),
    # How long a permit answer is cached; any change to the automation invalidates it at once.
    "PERMIT_CACHE_SECONDS": env.int("REVOPS_PERMIT_CACHE_SECONDS", default=60),
}

# approvals: the decision queue and webhooks:
REVOPS |= {
    # Default time to decide, per kind, in hours (a lead waiting on a route cannot wait long).
    "DECISION_DUE_HOURS": {
        "duplicate_merge": 72,
        "strategic_lead_route": 4,
        "forecast_risk_alert": 24,
        "renewal_risk_summary": 72,
        "expansion_signal": 48,
    },
    # Digests go out on the first hourly run from this local hour on, once per person per day.
    "DECISION_DIGEST_HOUR": env.int("REVOPS_DECISION_DIGEST_HOUR", default=7),
    # An open request expires this long after it was due (the CRM is told).
    "DECISION_EXPIRE_AFTER_HOURS": env.int("REVOPS_DECISION_EXPIRE_AFTER_HOURS", default=7 * 24),
    # Webhook delivery: first retry after BASE seconds, doubling up to MAX, for WINDOW hours.
    "DECISION_WEBHOOK_TIMEOUT_SECONDS": env.float("REVOPS_DECISION_WEBHOOK_TIMEOUT_SECONDS", default=10),
    "DECISION_WEBHOOK_BACKOFF_BASE_SECONDS": env.float("REVOPS_DECISION_WEBHOOK_BACKOFF_BASE_SECONDS", default=30),
    "DECISION_WEBHOOK_BACKOFF_MAX_SECONDS": env.float("REVOPS_DECISION_WEBHOOK_BACKOFF_MAX_SECONDS", default=3600),
    "DECISION_WEBHOOK_RETRY_HOURS": env.float("REVOPS_DECISION_WEBHOOK_RETRY_HOURS", default=24),
    # A claimed delivery not finished within this lease is retried by the sweep (a dead worker).
    "DECISION_WEBHOOK_LEASE_SECONDS": env.float("REVOPS_DECISION_WEBHOOK_LEASE_SECONDS", default=60),
    # The Celery queue deliveries go to (None: the default queue).
    "DECISION_WEBHOOK_QUEUE": env.str("REVOPS_DECISION_WEBHOOK_QUEUE", default="") or None,
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {
    "DecisionKindEnum": "approvals.decisions.kinds.DecisionKind",
    "DecisionStatusEnum": "approvals.decisions.kinds.DecisionStatus",
}

# health (run events, monitors):
REVOPS |= {
    # Raw run events older than this are deleted by the daily purge (findings keep their evidence).
    "HEALTH_RUN_RETENTION_DAYS": env.int("REVOPS_HEALTH_RUN_RETENTION_DAYS", default=400),
    "HEALTH_PURGE_BATCH": env.int("REVOPS_HEALTH_PURGE_BATCH", default=10_000),
    # PostgreSQL: how many months of health_runevent partitions exist ahead of the current one.
    "HEALTH_PARTITIONS_AHEAD": env.int("REVOPS_HEALTH_PARTITIONS_AHEAD", default=3),
    "HEALTH_INGEST_MAX_BATCH": 1000,
    # POST a JSON copy of each newly opened finding here (empty: no webhook).
    "HEALTH_FINDINGS_WEBHOOK_URL": env.str("REVOPS_HEALTH_FINDINGS_WEBHOOK_URL", default=""),
    # Kinds whose high-severity open finding places a registry hold (the permit check then blocks).
    "HEALTH_HOLD_KINDS": env.list(
        "REVOPS_HEALTH_HOLD_KINDS",
        default=[
            "ran_twice",
            "broke_after_change",
            "reporting_side_effects",
            "failure_rate_up",
            "wrong_owner",
            "crm_changed",  # a high-tier automation changed in the CRM since its approval (issue 17)
        ],
    ),
    # Failure findings are incidents (issue 16 §1): open → acknowledged → fixed → verified → closed;
    # evidence leaving the window never closes one. A finding that placed a hold is one too.
    "HEALTH_INCIDENT_KINDS": env.list(
        "REVOPS_HEALTH_INCIDENT_KINDS", default=["broke_after_change", "failure_rate_up", "timed_out"]
    ),
    # How many clean runs after the fix verify an incident, per monitor (kind); "default" for the rest.
    "HEALTH_VERIFY_CLEAN_RUNS": {"default": env.int("REVOPS_HEALTH_VERIFY_CLEAN_RUNS", default=3)},
    # The longest a finding may be suppressed, per risk tier of its automation (days).
    "HEALTH_SUPPRESS_MAX_DAYS": {"high": 7, "medium": 14, "low": 30},
    # The longest planned hold window (health.PlannedHoldWindow): did-not-run stays quiet inside it.
    "HEALTH_HOLD_WINDOW_MAX_DAYS": env.int("REVOPS_HEALTH_HOLD_WINDOW_MAX_DAYS", default=14),
    # Monitor defaults; each can be set per automation (health.models.HealthThresholds).
    "HEALTH_DEFAULTS": {
        "expected_duration": timedelta(hours=1),
        # A run still running this long after its start is marked timed out (a "timed out" finding).
        "max_duration": timedelta(hours=env.int("REVOPS_HEALTH_MAX_RUN_HOURS", default=24)),
        "allowed_staleness": timedelta(hours=24),
        "override_rate": 0.3,
        "override_window_runs": 50,
        "alert_budget_day": 50,
        "alert_budget_week": 200,
        "volume_factor": 5.0,
        "failure_rate_margin": 0.2,
        "min_runs": 5,  # fewer runs in the window than this: too few to judge a rate
        "recent_days": 7,  # the "last window" of the failure-rate and side-effect monitors
        "baseline_days": 28,  # the window before it that sets the baseline
        "change_lookback_days": 14,  # how long after a change failures are blamed on it
        "escalate_after": timedelta(days=2),  # after the overdue reminder, escalate to the manager
    },
}

# health (monthly review, reminders, dashboard):
REVOPS |= {
    # A rule owner reminded of an overdue review, still unreviewed this long after: their manager
    # is told (health.reminders).
    "HEALTH_REVIEW_ESCALATE_AFTER": timedelta(days=env.int("REVOPS_HEALTH_REVIEW_ESCALATE_DAYS", default=7)),
    # The monthly review's recommendation thresholds (health.reviews.rules).
    "HEALTH_REVIEW": {
        "min_runs": env.int("REVOPS_REVIEW_MIN_RUNS", default=5),  # fewer runs: too few to judge a rate
        "failure_rate": env.float("REVOPS_REVIEW_FAILURE_RATE", default=0.2),  # adjust at or above
        "override_rate": env.float("REVOPS_REVIEW_OVERRIDE_RATE", default=0.3),  # "users routinely override it"
        # "Users ignore the alert most of the time": the share of alerts with no action taken.
        "ignored_share": env.float("REVOPS_REVIEW_IGNORED_SHARE", default=0.5),
        "noisy_min_alerts": env.int("REVOPS_REVIEW_NOISY_MIN_ALERTS", default=10),  # fewer alerts are never noisy
        # Noisy: more alerts than this many per decision or completed task they led to.
        "noisy_ratio": env.float("REVOPS_REVIEW_NOISY_RATIO", default=1.5),
        "duplicate_share": env.float("REVOPS_REVIEW_DUPLICATE_SHARE", default=0.2),  # runs sharing a trigger
        "maintenance_minutes": env.int("REVOPS_REVIEW_MAINTENANCE_MINUTES", default=240),  # admin cleanup a month
        "recompute_days": env.int("REVOPS_REVIEW_RECOMPUTE_DAYS", default=5),  # late events: the beat re-computes
        "trend_months": 12,
    },
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {
    # Run events: what a run's outcome and mode can be, one name each in the schema.
    "RunOutcomeEnum": "health.choices.RunOutcome",
    "RunModeEnum": "health.choices.RunMode",
    # A row's recommendation, its confirmed decision and each reason's action share one choice set.
    "RecommendationEnum": "health.reviews.choices.Recommendation",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# discovery (CRM metadata imports): caps on one import (zip bombs, runaway folders), and from how
# many files an upload goes to the worker instead of being imported in the request.
REVOPS |= {
    "DISCOVERY_MAX_ARCHIVE_BYTES": env.int("REVOPS_DISCOVERY_MAX_ARCHIVE_BYTES", default=200 * 1024 * 1024),
    "DISCOVERY_MAX_FILES": env.int("REVOPS_DISCOVERY_MAX_FILES", default=100_000),
    "DISCOVERY_MAX_UNPACKED_BYTES": env.int("REVOPS_DISCOVERY_MAX_UNPACKED_BYTES", default=1024 * 1024 * 1024),
    "DISCOVERY_MAX_FILE_BYTES": env.int("REVOPS_DISCOVERY_MAX_FILE_BYTES", default=25 * 1024 * 1024),
    "DISCOVERY_WORKER_FROM_BYTES": env.int("REVOPS_DISCOVERY_WORKER_FROM_BYTES", default=5 * 1024 * 1024),
}
