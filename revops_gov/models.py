import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from simple_history.models import HistoricalRecords

from .choices import System


class User(AbstractUser):
    """A person (or an integration's service account) acting in the product.

    Roles are Django groups holding the capability permissions below; see `revops_gov.roles`.
    """

    manager = models.ForeignKey(
        "self",
        verbose_name="manager",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        help_text="Receives escalations when this person's reviews or decisions are overdue.",
    )

    class Meta:
        ordering = ["username"]
        permissions = [
            ("govern", "Edit governance data (RevOps admin)"),
            ("decide", "Approve packets and decide queued items (manager)"),
            ("read_governance", "Read governance data"),
            ("integrate", "Call the API as a CRM integration"),
        ]

    def __str__(self):
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return str(self)


class Integration(models.Model):
    """A CRM integration: one system, a service account that is the actor in the audit trail,
    and the API tokens it calls with."""

    name = models.CharField("name", max_length=100, unique=True)
    system = models.CharField("system", max_length=20, choices=System.choices)
    service_user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="integration", verbose_name="service account"
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    # Where decision outcomes are POSTed (approvals.decisions.webhooks), signed with the secret.
    # The secret is write-only: no API and no page ever shows it back.
    webhook_url = models.URLField("webhook URL", max_length=500, blank=True)
    webhook_secret = models.CharField("webhook secret", max_length=200, blank=True)
    history = HistoricalRecords(excluded_fields=["webhook_secret"])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_system_display()})"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 digest is stored; the token is shown once at creation.

    An integration's token is scoped to the integration's system; a person's token acts as
    that person with their role and sees every system.
    """

    name = models.CharField("label", max_length=100)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name="acts as")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, null=True, blank=True, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField("prefix", max_length=12, editable=False, help_text="Shown to tell tokens apart.")
    created_at = models.DateTimeField("created", auto_now_add=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="created by"
    )
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="revoked by"
    )
    history = HistoricalRecords()

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest(raw: str) -> str:
        # Tokens carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
        return hashlib.sha256(raw.encode()).hexdigest()

    @property
    def system(self) -> str | None:
        """The one system this token may touch, or None for a person's token (every system)."""
        return self.integration.system if self.integration_id else None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
