"""What imports of CRM metadata found, stored as data so the diff between snapshots is a query.

A snapshot is one import. An automation's (or field's) *version* is one row valid over a run of
consecutive snapshots of its system (`first_snapshot` .. `last_snapshot`): importing the same
metadata again only moves `last_snapshot` on, so it adds no rows but the snapshot's own. The
automations of snapshot S are the versions with first_snapshot <= S <= last_snapshot."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from registry.models import Automation, DataField
from revops_gov.choices import System


class SnapshotStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Change(models.TextChoices):
    NEW = "new", "New"
    CHANGED = "changed", "Changed"
    UNCHANGED = "unchanged", "Unchanged"
    REMOVED = "removed", "Removed"


class FindingKind(models.TextChoices):
    UNDOCUMENTED = "undocumented", "Running without a registry record"
    DEFINITION_CHANGED = "definition_changed", "Changed in the CRM since approval"
    ACTIVE_WHILE_PAUSED = "active_while_paused", "Active in the CRM, paused or retired in the registry"
    INACTIVE_WHILE_LIVE = "inactive_while_live", "Live in the registry, inactive or missing in the CRM"
    FIELD_CHANGED = "field_changed", "A field it uses was deleted or changed type"
    COLLISION = "collision", "Collides with another automation"


class MetadataSnapshot(models.Model):
    system = models.CharField("system", max_length=20, choices=System.choices)
    source_name = models.CharField("source", max_length=255, help_text="The file or folder imported.")
    created_at = models.DateTimeField("imported", auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="imported by"
    )
    status = models.CharField("status", max_length=10, choices=SnapshotStatus.choices, default=SnapshotStatus.DONE)
    progress = models.PositiveSmallIntegerField("progress (%)", default=100)
    error = models.TextField("error", blank=True)
    automation_count = models.PositiveIntegerField("automations", default=0)
    field_count = models.PositiveIntegerField("fields", default=0)
    # Where a queued upload waits for the worker (removed once imported).
    upload_path = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "metadata snapshot"
        indexes = [models.Index(fields=["system", "status", "id"], name="snapshot_system_status_idx")]

    def __str__(self):
        return f"Snapshot {self.pk} of {self.get_system_display()}"

    def get_absolute_url(self):
        return reverse("discovery:snapshot-detail", args=[self.pk])


class VersionQuerySet(models.QuerySet):
    def in_snapshot(self, snapshot: MetadataSnapshot):
        return self.filter(
            system=snapshot.system, first_snapshot_id__lte=snapshot.pk, last_snapshot_id__gte=snapshot.pk
        )


class SnapshotAutomation(models.Model):
    """One version of one CRM automation (see the module docstring)."""

    system = models.CharField(max_length=20, choices=System.choices)
    external_id = models.CharField("external id", max_length=300)
    content_hash = models.CharField("content hash", max_length=64)
    kind = models.CharField(max_length=30)
    name = models.CharField(max_length=300)
    object = models.CharField(max_length=120, blank=True)
    events = models.JSONField(default=list)
    active = models.BooleanField()
    reads = models.JSONField(default=list)
    writes = models.JSONField(default=list)
    actions = models.JSONField(default=list)
    definition = models.TextField(help_text="Normalized definition, one line per element: what a diff shows.")
    details = models.JSONField(default=dict)
    source_file = models.CharField(max_length=500, blank=True)
    first_snapshot = models.ForeignKey(MetadataSnapshot, models.CASCADE, related_name="+")
    last_snapshot = models.ForeignKey(MetadataSnapshot, models.CASCADE, related_name="+")

    objects = VersionQuerySet.as_manager()

    class Meta:
        ordering = ["external_id", "first_snapshot_id"]
        constraints = [
            models.CheckConstraint(condition=Q(first_snapshot__lte=F("last_snapshot")), name="snapautomation_range"),
        ]
        indexes = [
            models.Index(fields=["system", "external_id"], name="snapautomation_ext_idx"),
            models.Index(fields=["system", "last_snapshot"], name="snapautomation_last_idx"),
        ]

    def __str__(self):
        return self.external_id


class SnapshotField(models.Model):
    """One version of one CRM field."""

    system = models.CharField(max_length=20, choices=System.choices)
    name = models.CharField("Object.Field", max_length=250)
    object_name = models.CharField(max_length=120)
    api_name = models.CharField(max_length=120)
    content_hash = models.CharField(max_length=64)
    type = models.CharField(max_length=60, blank=True)
    label = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    required = models.BooleanField(default=False)
    picklist_values = models.JSONField(default=list)
    reference_to = models.JSONField(default=list)
    first_snapshot = models.ForeignKey(MetadataSnapshot, models.CASCADE, related_name="+")
    last_snapshot = models.ForeignKey(MetadataSnapshot, models.CASCADE, related_name="+")

    objects = VersionQuerySet.as_manager()

    class Meta:
        ordering = ["name", "first_snapshot_id"]
        indexes = [
            models.Index(fields=["system", "name"], name="snapfield_name_idx"),
            models.Index(fields=["system", "last_snapshot"], name="snapfield_last_idx"),
        ]

    def __str__(self):
        return self.name


class DataFieldSource(models.Model):
    """What the metadata last wrote into a data-dictionary entry: a value people changed since is
    theirs and is never overwritten (the difference is shown instead)."""

    data_field = models.OneToOneField(DataField, models.CASCADE, related_name="metadata_source")
    system = models.CharField(max_length=20, choices=System.choices)
    label = models.CharField(max_length=255, blank=True)
    definition = models.TextField(blank=True)
    crm_label = models.CharField("label in the CRM", max_length=255, blank=True)
    crm_definition = models.TextField("definition from the CRM", blank=True)
    snapshot = models.ForeignKey(MetadataSnapshot, models.CASCADE, related_name="+")

    def __str__(self):
        return f"Metadata of {self.data_field}"


class Finding(models.Model):
    """What an import found that someone must look at, with the evidence."""

    snapshot = models.ForeignKey(MetadataSnapshot, models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=30, choices=FindingKind.choices)
    external_id = models.CharField(max_length=300, blank=True)
    automation = models.ForeignKey(
        Automation, models.SET_NULL, null=True, blank=True, related_name="discovery_findings"
    )
    message = models.TextField()
    evidence = models.TextField(blank=True, help_text="The diff of the definition, or the facts compared.")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-snapshot_id", "kind", "external_id"]
        indexes = [models.Index(fields=["automation", "kind"], name="discfinding_auto_idx")]

    def __str__(self):
        return self.message
