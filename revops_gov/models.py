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
    notify_by = models.CharField(
        "notify me by",
        max_length=10,
        choices=[
            ("", "my team's choice (email if none)"),
            ("email", "email"),
            ("slack", "Slack"),
            ("teams", "Microsoft Teams"),
            ("digest", "the daily digest only"),
        ],
        blank=True,
        default="",
    )
    slack_user_id = models.CharField(
        "Slack member ID",
        max_length=30,
        blank=True,
        help_text="e.g. U024BE7LH: Slack messages come to you directly, and buttons you press in Slack act as you.",
    )
    teams_webhook_url = models.URLField(
        "Teams workflow URL",
        max_length=1000,
        blank=True,
        help_text="A Teams Workflows 'When a Teams webhook request is received' URL that posts to your chat.",
    )
    team = models.CharField(
        "team",
        max_length=60,
        blank=True,
        help_text="From the identity provider's groups (REVOPS_OIDC_TEAM_GROUPS) when signing in with it.",
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


class OidcIdentity(models.Model):
    """A person's account at the company identity provider: (issuer, subject) is stable where an
    email address is not, so a renamed or reused address never signs someone in as someone else."""

    user = models.ForeignKey(User, verbose_name="user", on_delete=models.CASCADE, related_name="oidc_identities")
    issuer = models.CharField("issuer", max_length=300)
    subject = models.CharField("subject", max_length=255)
    groups = models.JSONField("groups at the last sign-in", default=list, blank=True)
    last_sign_in_at = models.DateTimeField("last sign-in", null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique")]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"


class AccessEvent(models.Model):
    """The access log: sign-ins, refusals, role changes from the identity provider and sign-outs,
    each with its source. Append-only."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        REFUSED = "refused", "Sign-in refused"
        ROLE_CHANGED = "role_changed", "Role changed"
        ACCESS_REMOVED = "access_removed", "Access removed"
        SIGN_OUT = "sign_out", "Signed out"

    class Source(models.TextChoices):
        PASSWORD = "password", "Password"
        OIDC = "oidc", "Company sign-in (OIDC)"

    at = models.DateTimeField("at", auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        User, verbose_name="user", on_delete=models.SET_NULL, null=True, blank=True, related_name="access_events"
    )
    username = models.CharField("username", max_length=255, blank=True, help_text="As given, kept if the user goes.")
    kind = models.CharField("what", max_length=20, choices=Kind.choices)
    source = models.CharField("source", max_length=20, choices=Source.choices)
    detail = models.CharField("detail", max_length=500, blank=True)
    groups = models.JSONField("identity-provider groups", default=list, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"], name="access_event_user_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.username} ({self.get_source_display()})"


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", "email"
    WEBHOOK = "webhook", "webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class TeamChannel(models.Model):
    """How a team is told (an admin's setting): its members who chose nothing get this channel;
    a Slack channel or a Teams workflow URL receives the team's messages."""

    team = models.CharField("team", max_length=60, unique=True)
    notify_by = models.CharField(
        "notify by",
        max_length=10,
        choices=[
            ("email", "email"),
            ("slack", "Slack"),
            ("teams", "Microsoft Teams"),
            ("digest", "the daily digest only"),
        ],
        default="email",
    )
    slack_channel = models.CharField("Slack channel ID", max_length=30, blank=True, help_text="e.g. C024BE91L")
    teams_webhook_url = models.URLField("Teams workflow URL", max_length=1000, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["team"]

    def __str__(self):
        return f"{self.team}: {self.get_notify_by_display()}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed (gave up)"


class Delivery(models.Model):
    """One message to one recipient on one channel, in the one outbox every app writes to
    (`revops_gov.outbox`): written in the transaction of what it tells, sent after the commit by
    a worker, retried with backoff, listed on the deliveries page. Its `key` is unique: a message
    that must go out once (a finding's alert to one person) can never be queued twice."""

    key = models.CharField("key", max_length=200, unique=True)
    kind = models.CharField("kind", max_length=30)
    channel = models.CharField("channel", max_length=20, choices=DeliveryChannel.choices)
    recipient = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries", verbose_name="recipient"
    )
    address = models.CharField("address", max_length=500, blank=True, help_text="Email address or webhook URL.")
    subject = models.CharField("subject", max_length=300)
    payload = models.JSONField("payload", default=dict)
    about = models.CharField("about", max_length=100, blank=True, help_text="What it tells, e.g. health.finding:12.")
    about_url = models.CharField("about (link)", max_length=300, blank=True)
    status = models.CharField("status", max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField("attempts", default=0)
    last_error = models.TextField("last error", blank=True)
    next_attempt_at = models.DateTimeField("next try")
    sent_at = models.DateTimeField("sent", null=True, blank=True)
    created_at = models.DateTimeField("queued", auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="delivery_due_idx"),
            models.Index(fields=["status", "-created_at"], name="delivery_status_idx"),
        ]

    def __str__(self):
        return f"{self.kind} → {self.address or self.recipient}"
