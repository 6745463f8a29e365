"""Create a CRM integration (or add a token to an existing one) and print its token once."""

from django.core.management.base import BaseCommand, CommandError

from revops_gov import services
from revops_gov.choices import System
from revops_gov.models import Integration


class Command(BaseCommand):
    help = "Create an API token for a CRM integration. The token is printed once and stored hashed."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The integration's name, e.g. salesforce-prod")
        parser.add_argument(
            "--system", required=True, choices=System.values, help="The one system this token may touch"
        )

    def handle(self, *args, name, system, **options):
        by = services.system_user()
        integration = Integration.objects.filter(name=name).first()
        if integration is None:
            integration, raw = services.integration_create(name=name, system=system, by=by)
        else:
            if integration.system != system:
                raise CommandError(
                    f"Integration {name} exists for {integration.get_system_display()}, not {system}; "
                    "a token can only have its integration's system."
                )
            _, raw = services.api_token_create(
                user=integration.service_user, integration=integration, name=f"{name} token", by=by
            )
        self.stderr.write(f"Token for {integration} (shown once; store it in the CRM's secret store):")
        self.stdout.write(raw)
