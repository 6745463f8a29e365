from django.conf import settings
from django.core.management.base import BaseCommand

from revops_gov.demo import DEMO_PASSWORD, LOGINS


class Command(BaseCommand):
    help = "Print where the app listens and the demo logins (used by `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, port, **options):
        db = settings.DATABASES["default"]
        engine = (
            "SQLite file " + str(db["NAME"])
            if "sqlite" in db["ENGINE"]
            else f"PostgreSQL {db.get('HOST')}/{db['NAME']}"
        )
        broker = settings.CELERY_BROKER_URL.split("@")[-1]
        lines = [
            "",
            "RevOps Governance is starting (web, Celery worker, Celery beat). Stop with Ctrl-C.",
            f"  Open   http://127.0.0.1:{port}/",
            f"  API    http://127.0.0.1:{port}/api/docs/",
            f"  Data   {engine}; broker {broker}",
            "  Logins (password for each: " + DEMO_PASSWORD + "):",
            *[f"    {role:<13} {username}" for role, username in LOGINS],
            "",
        ]
        self.stdout.write("\n".join(lines))
