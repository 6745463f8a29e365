"""Load the demo team and registry. Idempotent: what exists is left alone, so running it twice
changes nothing."""

import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Load demo people, data fields and automations (safe to run again: nothing changes twice)."

    def handle(self, *args, **options):
        # Each app may ship a `demo` module with load(); lower layers first (INSTALLED_APPS order).
        with transaction.atomic():
            for config in apps.get_app_configs():
                module_name = f"{config.name}.demo"
                if importlib.util.find_spec(module_name) is None:
                    continue
                created = importlib.import_module(module_name).load(stdout=self.stdout)
                if created:
                    self.stdout.write(f"{config.verbose_name}: {created} demo record(s) created")
        self.stdout.write(self.style.SUCCESS("Demo data is loaded."))
