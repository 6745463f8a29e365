from django import forms
from django.conf import settings

from revops_gov.concurrency import RevisionFormMixin
from revops_gov.forms import ChangeReasonField, StyledFormMixin
from revops_gov.models import User

from .choices import ChangeEventKind, OwnerRole
from .models import Automation, ChangeEvent, DataField
from .risk import IMPACT_FLAG_FIELDS
from .services import DATAFIELD_FIELDS, DOCUMENTATION_FIELDS, OWNER_FIELDS, SCHEDULE_FIELDS


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj} ({obj.username})" if obj.get_full_name() else obj.username


def people():
    return User.objects.filter(is_active=True).exclude(groups__name="Integration").order_by("first_name", "username")


class AutomationForm(RevisionFormMixin, StyledFormMixin, forms.ModelForm):
    """Input shape only: the rules (tier floor, material changes) are the service's."""

    tags = forms.CharField(required=False, help_text="Separate tags with commas, e.g. inbound, emea.")
    change_reason = ChangeReasonField(required=False)

    class Meta:
        model = Automation
        fields = (
            "key",
            *DOCUMENTATION_FIELDS,
            *OWNER_FIELDS,
            "data_fields",
            *IMPACT_FLAG_FIELDS,
            "risk_tier_override",
            "risk_tier_override_reason",
            "maturity_stage",
            "review_cadence",
            *SCHEDULE_FIELDS,
        )
        widgets = {
            "data_fields": forms.SelectMultiple(attrs={"size": 8}),
            "risk_tier_override_reason": forms.Textarea(),
        }

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        for name in OWNER_FIELDS:
            self.fields[name] = PersonChoiceField(
                queryset=people(),
                required=False,
                label=self.fields[name].label,
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        self.fields["data_fields"].queryset = DataField.objects.order_by("object_name", "api_name")
        self.fields["data_fields"].help_text = "Hold Ctrl (⌘ on a Mac) to choose several."
        self.fields["risk_tier_override"].label = "Raise the risk tier to"
        self.fields[
            "risk_tier_override"
        ].help_text = "Optional. The tier is derived from the impact flags; you can raise it, never lower it."
        if editing:
            del self.fields["key"]
            self.fields["change_reason"].required = True
            if self.instance.pk:
                self.initial["tags"] = ", ".join(tag.name for tag in self.instance.tags.all())

    def clean_tags(self):
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]

    def validate_unique(self):
        # The service checks uniqueness inside its transaction; only the key matters here.
        if "key" in self.fields:
            super().validate_unique()

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("change_reason", None)
        data.pop("key", None)
        data.pop("revision", None)
        return data


class AutomationReviewForm(StyledFormMixin, forms.Form):
    notes = forms.CharField(widget=forms.Textarea, label="What did the review find?", max_length=2000)


class HoldForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(widget=forms.Textarea, label="Why stop this automation?", max_length=2000)


class HoldReleaseForm(StyledFormMixin, forms.Form):
    note = forms.CharField(label="Why can it run again?", max_length=2000)


class BulkOwnerForm(StyledFormMixin, forms.Form):
    automations = forms.ModelMultipleChoiceField(queryset=Automation.objects.all(), to_field_name="key")
    role = forms.ChoiceField(choices=OwnerRole.choices, label="Owner role")
    owner = PersonChoiceField(queryset=User.objects.none(), label="Person")
    change_reason = ChangeReasonField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people()


class ImportForm(StyledFormMixin, forms.Form):
    file = forms.FileField(label="CSV file", help_text="Exported from your CRM or from this registry (UTF-8).")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = upload.name.lower()
        if not name.endswith(".csv"):
            raise forms.ValidationError("Upload a .csv file.")
        if upload.content_type not in (
            "text/csv",
            "application/vnd.ms-excel",
            "text/plain",
            "application/csv",
            "application/octet-stream",
        ):
            raise forms.ValidationError(f"This is a {upload.content_type} file, not CSV.")
        # Refused before it is read: a huge upload never reaches memory.
        max_bytes = settings.REVOPS["CSV_IMPORT_MAX_BYTES"]
        if upload.size > max_bytes:
            raise forms.ValidationError(
                f"The file is larger than {max_bytes // 1024} KB; split it and import each part."
            )
        return upload


class DataFieldForm(RevisionFormMixin, StyledFormMixin, forms.ModelForm):
    change_reason = ChangeReasonField(required=False)

    class Meta:
        model = DataField
        fields = DATAFIELD_FIELDS
        widgets = {"definition": forms.Textarea()}

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"] = PersonChoiceField(queryset=people(), required=False, label="Owner")
        self.fields["owner"].widget.attrs["class"] = "form-select"
        if editing:
            self.fields["change_reason"].required = True

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("change_reason", None)
        data.pop("revision", None)
        return data


class ChangeEventForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = ChangeEvent
        fields = ("kind", "title", "description", "occurred_on", "automations", "data_fields")
        widgets = {
            "occurred_on": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(),
            "automations": forms.SelectMultiple(attrs={"size": 10}),
            "data_fields": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {
            "automations": "Every automation using a changed data field is included as well.",
            "kind": "From the guide: review automations when any of these change.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "---------"), *ChangeEventKind.choices]
        self.fields["automations"].required = False
        self.fields["automations"].queryset = Automation.objects.active().order_by("name")
        self.fields["data_fields"].queryset = DataField.objects.order_by("object_name", "api_name")
