"""Play CRM integrations against a running server over HTTP (see revops_gov/simulator.py)."""

import json
import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from revops_gov import simulator
from revops_gov.choices import System


def _pair(text: str, sep: str, what: str) -> tuple[str, str]:
    name, found, value = text.partition(sep)
    if not found or not name.strip() or not value.strip():
        raise CommandError(f"{what}: give NAME{sep}VALUE, not {text!r}.")
    return name.strip(), value.strip()


class Command(BaseCommand):
    help = (
        "Play CRM integrations (Salesforce, HubSpot…) against a running server: permit checks, run events, "
        "decision requests, a webhook receiver that verifies signatures, and an admin who decides."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The running server (default %(default)s)")
        parser.add_argument(
            "--token",
            action="append",
            default=[],
            metavar="SYSTEM=TOKEN",
            help="An integration token per system, e.g. salesforce=rg_…; repeat for more systems",
        )
        parser.add_argument(
            "--admin-token", default="", help="A RevOps admin's personal token: decides, changes a field"
        )
        parser.add_argument(
            "--create-tokens",
            action="store_true",
            help="Make the integrations, tokens, webhooks and an admin token through the services (the server "
            "must use this database); the tokens are revoked and the webhooks switched off at the end",
        )
        parser.add_argument(
            "--systems", default="salesforce,hubspot", help="With --create-tokens: the systems (default %(default)s)"
        )
        parser.add_argument(
            "--admin", default="", help="With --create-tokens: the admin's username (default: the first)"
        )
        parser.add_argument("--duration", type=float, default=60, help="Seconds to run (default %(default)s)")
        parser.add_argument("--rate", type=float, default=5, help="At most this many requests/s (default %(default)s)")
        parser.add_argument("--automations", type=int, default=8, help="Automations per system (default %(default)s)")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default %(default)s)")
        parser.add_argument(
            "--backfill-hours", type=float, default=24, help="Hours of past runs to play first (default %(default)s)"
        )
        parser.add_argument(
            "--decision-every", type=float, default=3, help="Seconds between decision requests (default %(default)s)"
        )
        parser.add_argument(
            "--webhook-port", type=int, default=0, help="Port of the local webhook receiver (default: any free one)"
        )
        parser.add_argument(
            "--webhook-secret",
            default="",
            help="The secret set for the webhook (default: a new one with --create-tokens)",
        )
        parser.add_argument(
            "--header",
            action="append",
            default=[],
            metavar="NAME:VALUE",
            help="Extra header (e.g. X-Forwarded-Proto:https)",
        )
        parser.add_argument("--wait-ready", type=float, default=0, help="Seconds to wait for the server to answer")
        parser.add_argument(
            "--drain", type=float, default=20, help="Seconds to wait for the last webhooks (default 20)"
        )
        parser.add_argument("--summary-json", default="", help="Also write the summary as JSON to this file")

    def handle(self, *args, **options):
        tokens = dict(_pair(item, "=", "--token") for item in options["token"])
        headers = dict(_pair(item, ":", "--header") for item in options["header"])
        if not tokens and not options["create_tokens"]:
            raise CommandError("Give --token SYSTEM=TOKEN (one per system) or --create-tokens.")
        systems = [s.strip() for s in options["systems"].split(",") if s.strip()]
        for system in [*tokens, *(systems if options["create_tokens"] else [])]:
            if system not in System.values:
                raise CommandError(f"Unknown system {system!r}; choose from {', '.join(System.values)}.")
        secret = options["webhook_secret"] or (secrets.token_urlsafe(24) if options["create_tokens"] else "")
        try:
            receiver = simulator.WebhookReceiver(secret, options["webhook_port"]) if secret else None
        except OSError as exc:
            raise CommandError(f"The webhook receiver cannot listen on port {options['webhook_port']}: {exc}") from exc
        config = simulator.Config(
            url=options["url"],
            tokens=tokens,
            admin_token=options["admin_token"],
            duration=options["duration"],
            rate=options["rate"],
            automations=options["automations"],
            seed=options["seed"],
            backfill_hours=options["backfill_hours"],
            headers=headers,
            webhook_secret=secret,
            decision_every=options["decision_every"],
            drain=options["drain"],
        )
        provisioned = None
        try:
            if options["create_tokens"]:
                try:
                    provisioned = simulator.provision(
                        systems=systems,
                        webhook_url=receiver.url,
                        webhook_secret=secret,
                        admin_username=options["admin"],
                    )
                except (ValueError, ValidationError) as exc:
                    raise CommandError(str(exc)) from exc
                config.tokens = {**provisioned.tokens, **tokens}
                config.admin_token = config.admin_token or provisioned.admin_token
                self.stdout.write(
                    f"Integrations crm-simulator-{{{','.join(systems)}}} with new tokens; "
                    f"{provisioned.admin_username} decides."
                )
            if receiver:
                self.stdout.write(f"Webhook receiver: {receiver.url}")
            sim = simulator.Simulation(config, out=self.stdout.write, receiver=receiver)
            if options["wait_ready"] and not sim.wait_ready(options["wait_ready"]):
                raise CommandError(f"{config.url} did not answer within {options['wait_ready']:.0f} s.")
            self.stdout.write(
                f"Simulating against {config.url} for {config.duration:.0f} s at ≤ {config.rate:g} req/s."
            )
            summary = sim.run_for()
        except KeyboardInterrupt:
            raise CommandError("Interrupted before the simulation started.") from None
        finally:
            if provisioned:
                simulator.unprovision(provisioned)
            if receiver:
                receiver.close()
        self.stdout.write(simulator.format_summary(summary))
        if options["summary_json"]:
            with open(options["summary_json"], "w") as handle:
                json.dump(summary, handle, indent=2)
