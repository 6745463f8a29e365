"""Form helpers shared by every app: Bootstrap classes on widgets, and mapping a service's
ValidationError back onto the form's fields."""

from django import forms
from django.core.exceptions import ValidationError

from .models import DeliveryChannel, DeliveryStatus


class StyledFormMixin:
    """Gives each widget its Bootstrap class and marks fields with errors as invalid."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for bound_field in self.fields.values():
            widget = bound_field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.RadioSelect):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            # Django's default of 10 rows makes long forms twice as long as they need to be.
            if isinstance(widget, forms.Textarea) and str(widget.attrs.get("rows", "10")) == "10":
                widget.attrs["rows"] = 3
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        self._mark_invalid()

    def _mark_invalid(self):
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                attrs["aria-invalid"] = "true"

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the fields it names (or on top of the form)."""
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                target = field if field in self.fields else None
                for message in messages:
                    self.add_error(target, message)
        else:
            for message in error.messages:
                self.add_error(None, message)
        self._mark_invalid()


class ChangeReasonField(forms.CharField):
    def __init__(self, required=True, **kwargs):
        kwargs.setdefault("label", "Why this change")
        kwargs.setdefault("help_text", "Kept in the history with your name.")
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault(
            "error_messages", {"required": "Say why you are making this change; it is kept in the history."}
        )
        super().__init__(required=required, **kwargs)


DELIVERY_KINDS = [
    ("notice", "Notice"),
    ("digest", "Digest"),
    ("alert", "Finding alert"),
    ("reminder", "Finding reminder"),
    ("escalation", "Finding escalation"),
    ("findings_digest", "Findings digest"),
    ("review_reminders", "Review reminders"),
]


class DeliveryFilterForm(StyledFormMixin, forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *DeliveryStatus.choices], required=False)
    channel = forms.ChoiceField(choices=[("", "Any channel"), *DeliveryChannel.choices], required=False)
    kind = forms.ChoiceField(choices=[("", "Any kind"), *DELIVERY_KINDS], required=False)
    recipient = forms.CharField(required=False, label="Recipient (username or address)", max_length=200)
    about = forms.CharField(required=False, label="About (e.g. health.finding:12)", max_length=100)


_SLACK_ID = r"^[UW][A-Z0-9]{6,20}$"


class NotificationSettingsForm(StyledFormMixin, forms.ModelForm):
    """A person's own channel: email, Slack, Teams or the digest only."""

    class Meta:
        from .models import User

        model = User
        fields = ["notify_by", "slack_user_id", "teams_webhook_url"]

    def clean_slack_user_id(self):
        value = self.cleaned_data["slack_user_id"].strip().upper()
        if value and not forms.RegexField(_SLACK_ID).regex.match(value):
            raise ValidationError("A Slack member ID looks like U024BE7LH (Profile → ⋮ → Copy member ID).")
        return value

    def clean(self):
        data = super().clean()
        if data.get("notify_by") == "slack" and not data.get("slack_user_id"):
            self.add_error("slack_user_id", "Slack messages need your Slack member ID.")
        if data.get("notify_by") == "teams" and not data.get("teams_webhook_url"):
            self.add_error("teams_webhook_url", "Teams messages need your Teams workflow URL.")
        return data


class TeamChannelForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        from .models import TeamChannel

        model = TeamChannel
        fields = ["team", "notify_by", "slack_channel", "teams_webhook_url"]

    def clean(self):
        data = super().clean()
        if data.get("notify_by") == "slack" and not data.get("slack_channel"):
            self.add_error("slack_channel", "A team told on Slack needs its channel ID (e.g. C024BE91L).")
        if data.get("notify_by") == "teams" and not data.get("teams_webhook_url"):
            self.add_error("teams_webhook_url", "A team told on Teams needs its workflow URL.")
        return data
