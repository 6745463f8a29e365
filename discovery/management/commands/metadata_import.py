"""Import CRM metadata (a Salesforce DX project, a retrieve folder, a .zip, or HubSpot v4 flow
JSON) as a snapshot of one system. With --json it prints one JSON object a CI pipeline can read;
bad input exits non-zero with the file (and line) named, and nothing is stored."""

import json as jsonlib

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from discovery import services
from discovery.parsers import MetadataError


class Command(BaseCommand):
    help = "Import CRM metadata as a snapshot: automations, the fields they read and write, what changed."

    def add_arguments(self, parser):
        parser.add_argument("path", help="Project folder, metadata retrieve folder, .zip, or HubSpot flows JSON")
        parser.add_argument("--system", required=True, help="The system slug, e.g. salesforce or hubspot")
        parser.add_argument("--json", action="store_true", help="Print the result as one JSON object")
        parser.add_argument("--dry-run", action="store_true", help="Report what the import would find; store nothing")

    def handle(self, *args, path, system, **options):
        as_json, dry_run = options["json"], options["dry_run"]
        try:
            result = services.metadata_import(system=system, path=path, by=None, source_name=path, dry_run=dry_run)
        except MetadataError as exc:
            raise CommandError(f"Nothing was imported: {exc}") from exc
        except ValidationError as exc:
            raise CommandError(f"Nothing was imported: {'; '.join(exc.messages)}") from exc
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if as_json:
            self.stdout.write(_dumps(result.as_json()))
            return
        counts = {}
        for automation in result.automations:
            counts[automation["change"]] = counts.get(automation["change"], 0) + 1
        where = "dry run, nothing stored" if dry_run else f"snapshot {result.snapshot.pk}"
        summary = ", ".join(f"{n} {c}" for c, n in sorted(counts.items())) or "none"
        self.stdout.write(
            f"{len(result.automations)} automations ({summary}), "
            f"{len(result.fields)} fields, {len(result.findings)} findings ({where})."
        )
        for finding in result.findings:
            self.stdout.write(f"  {finding.kind}: {finding.message}")


def _dumps(data) -> str:
    return jsonlib.dumps(data, indent=2, ensure_ascii=False)
