from datetime import UTC

from django import forms

from revops_gov.forms import StyledFormMixin

from .choices import FindingKind, FindingStatus, Severity


class FindingFilterForm(StyledFormMixin, forms.Form):
    kind = forms.ChoiceField(choices=[("", "Any kind"), *FindingKind.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Severity.choices], required=False)
    status = forms.ChoiceField(
        choices=[("", "Unresolved"), *FindingStatus.choices], required=False, help_text="Unresolved by default."
    )
    owner = forms.CharField(required=False, label="Owner (username)", max_length=150)


class AcknowledgeForm(StyledFormMixin, forms.Form):
    note = forms.CharField(label="Note (optional)", required=False, max_length=2000)


class SuppressForm(StyledFormMixin, forms.Form):
    until = forms.DateTimeField(
        label="Suppress until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="No alerts and no hold until then; it reopens afterwards if the monitor still fires.",
    )
    reason = forms.CharField(label="Why", widget=forms.Textarea, max_length=2000)

    def clean_until(self):
        # In UTC: a typed offset beyond ±15:59 is valid ISO 8601 but refused by PostgreSQL.
        return self.cleaned_data["until"].astimezone(UTC)
