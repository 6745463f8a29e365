"""Form helpers shared by every app: Bootstrap classes on widgets, and mapping a service's
ValidationError back onto the form's fields."""

from django import forms
from django.core.exceptions import ValidationError


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
