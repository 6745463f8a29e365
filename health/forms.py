from datetime import UTC, datetime, time, timedelta

from django import forms
from django.utils import timezone

from revops_gov.forms import StyledFormMixin

from .choices import FindingKind, FindingStatus, RunOutcome, Severity


class FindingFilterForm(StyledFormMixin, forms.Form):
    kind = forms.ChoiceField(choices=[("", "Any kind"), *FindingKind.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Severity.choices], required=False)
    status = forms.ChoiceField(
        choices=[("", "Unresolved"), *FindingStatus.choices], required=False, help_text="Unresolved by default."
    )
    owner = forms.CharField(required=False, label="Owner (username)", max_length=150)


class AcknowledgeForm(StyledFormMixin, forms.Form):
    note = forms.CharField(label="Note (optional)", required=False, max_length=2000)


class FixForm(StyledFormMixin, forms.Form):
    note = forms.CharField(label="What was fixed", widget=forms.Textarea, max_length=2000)


class HoldReleaseForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(label="Why it may run before the fix is verified", widget=forms.Textarea, max_length=2000)


class SuppressForm(StyledFormMixin, forms.Form):
    until = forms.DateTimeField(
        label="Suppress until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="No alerts until then (a hold stays); at most the automation's tier limit; "
        "it reopens afterwards if the monitor still fires.",
    )
    reason = forms.CharField(label="Why", widget=forms.Textarea, max_length=2000)

    def clean_until(self):
        # In UTC: a typed offset beyond ±15:59 is valid ISO 8601 but refused by PostgreSQL.
        return self.cleaned_data["until"].astimezone(UTC)


class RunFilterForm(StyledFormMixin, forms.Form):
    outcome = forms.ChoiceField(choices=[("", "Any outcome"), *RunOutcome.choices], required=False)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Started on or after."
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Started on or before."
    )
    event_id = forms.CharField(label="Event id", required=False, max_length=200)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end of the range is before its start.")
        return data

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The date range as [start, end) instants in the current time zone."""
        data = self.cleaned_data
        tz = timezone.get_current_timezone()
        since = timezone.make_aware(datetime.combine(data["since"], time.min), tz) if data.get("since") else None
        until = (
            timezone.make_aware(datetime.combine(data["until"] + timedelta(days=1), time.min), tz)
            if data.get("until")
            else None
        )
        return since, until


class HoldWindowForm(StyledFormMixin, forms.Form):
    starts_at = forms.DateTimeField(
        label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC."
    )
    ends_at = forms.DateTimeField(
        label="Ends",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="UTC; the did-not-run monitor stays quiet until then and its clock restarts at the end.",
    )
    reason = forms.CharField(label="Why it will not run", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def clean_starts_at(self):
        return self.cleaned_data["starts_at"].astimezone(UTC)

    def clean_ends_at(self):
        return self.cleaned_data["ends_at"].astimezone(UTC)


class HoldWindowCancelForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(label="Why cancel it", max_length=2000)
