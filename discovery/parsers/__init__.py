"""Parsers: pure functions from CRM metadata files to plain data (no database)."""

from pathlib import Path

from .base import ArchiveTooLarge, CrmAutomation, CrmField, Limits, MetadataError, ParsedMetadata
from .hubspot import parse_hubspot
from .salesforce import parse_salesforce

__all__ = [
    "ArchiveTooLarge",
    "CrmAutomation",
    "CrmField",
    "Limits",
    "MetadataError",
    "ParsedMetadata",
    "parse_hubspot",
    "parse_metadata",
    "parse_salesforce",
]


def parse_metadata(path: str | Path, *, system: str, limits: Limits | None = None) -> ParsedMetadata:
    """What the files at path hold, read by the parser for the system."""
    if system == "hubspot":
        return parse_hubspot(path, limits)
    return parse_salesforce(path, limits)
