from django import forms

from registry.choices import Team
from revops_gov.forms import StyledFormMixin

from .models import Recommendation
from .selectors import SORTS

SORT_CHOICES = [(key, key.replace("_", " ")) for key in SORTS] + [
    (f"-{key}", f"{key.replace('_', ' ')} (descending)") for key in SORTS
]


class ReviewFilterForm(StyledFormMixin, forms.Form):
    recommendation = forms.ChoiceField(choices=[("", "Any recommendation"), *Recommendation.choices], required=False)
    team = forms.ChoiceField(choices=[("", "Any team"), *Team.choices], required=False)
    owner = forms.CharField(required=False, label="Rule owner (username)", max_length=150)
    confirmed = forms.ChoiceField(
        choices=[("", "Confirmed or not"), ("no", "Waiting for an admin"), ("yes", "Confirmed")], required=False
    )
    sort = forms.ChoiceField(choices=[("", "Sort by name"), *SORT_CHOICES], required=False)


class ConfirmForm(StyledFormMixin, forms.Form):
    decision = forms.ChoiceField(
        label="Action",
        choices=Recommendation.choices,
        help_text="Pause and retire move the automation through its lifecycle, with its gates.",
    )
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea,
        required=False,
        max_length=2000,
        help_text="Needed when you change the recommendation, pause or retire; kept in the history.",
    )
