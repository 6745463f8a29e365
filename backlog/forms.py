"""Input shapes of the backlog pages; the rules are the services'."""

from django import forms

from registry.forms import PersonChoiceField, people
from registry.models import DataField
from revops_gov.concurrency import RevisionFormMixin
from revops_gov.forms import ChangeReasonField, StyledFormMixin

from .models import Candidate
from .rules import FACTORS, JUDGMENT_FLAG_FIELDS
from .services import MATRIX_FIELDS, REQUEST_FIELDS

INTAKE_FIELDS = tuple(f for f in REQUEST_FIELDS if f not in ("owner", "maintenance_owner", "exception_owner"))
FACTOR_CHOICES = [("", "Not scored")] + [(str(n), str(n)) for n in range(1, 6)]


def factor_help(factor) -> str:
    """The scale of a factor as the guide's table gives it: every factor raises the score."""
    if factor.name == "maintenance_cost":
        return (
            "1 = hard to support after launch, 5 = easy to support (the guide: the rule can be supported "
            "after launch). A higher score raises the priority."
        )
    return f"1 = low, 5 = {factor.high_means.lower()}. A higher score raises the priority."


class _CandidateForm(StyledFormMixin, forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["data_fields"].queryset = DataField.objects.order_by("object_name", "api_name")
        self.fields[
            "data_fields"
        ].help_text = "The CRM fields it would read or write. Hold Ctrl (⌘ on a Mac) to choose several."
        self.fields["data_fields"].widget.attrs["size"] = 6

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class CandidateRequestForm(_CandidateForm):
    """What anyone with a role can tell when asking for an automation."""

    class Meta:
        model = Candidate
        fields = (*INTAKE_FIELDS, "data_fields")


class CandidateTriageForm(RevisionFormMixin, _CandidateForm):
    """Everything, for admins: owners, the decision matrix, judgment flags and the factors."""

    change_reason = ChangeReasonField()

    class Meta:
        model = Candidate
        fields = (*REQUEST_FIELDS, "data_fields", *MATRIX_FIELDS, *JUDGMENT_FLAG_FIELDS, "human_assist")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("owner", "maintenance_owner", "exception_owner"):
            self.fields[name] = PersonChoiceField(
                queryset=people(),
                required=False,
                label=self.fields[name].label,
                help_text=self.fields[name].help_text,
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        for factor in FACTORS:
            name = f"factor_{factor.name}"
            self.fields[name] = forms.TypedChoiceField(
                choices=FACTOR_CHOICES,
                coerce=int,
                empty_value=None,
                required=False,
                label=factor.label,
                help_text=factor_help(factor),
                initial=getattr(self.instance, name) if self.instance.pk else None,
                widget=forms.Select(attrs={"class": "form-select"}),
            )

    def service_kwargs(self) -> dict:
        data = super().service_kwargs()
        data |= {f"factor_{f.name}": self.cleaned_data[f"factor_{f.name}"] for f in FACTORS}
        return data

    def factor_fields(self):
        return [self[f"factor_{f.name}"] for f in FACTORS]

    def matrix_rows(self):
        from .rules import QUESTIONS

        return [(self[q.field], self[f"{q.field}_note"]) for q in QUESTIONS]

    def judgment_fields(self):
        return [self[name] for name in JUDGMENT_FLAG_FIELDS]


class PromoteForm(StyledFormMixin, forms.Form):
    """Only asked for when the guide's defer or avoid flag is raised."""

    override_reason = forms.CharField(
        label="Why promote despite the flag",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with your name and the flags on the candidate.",
    )


class ReasonForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label="Why",
        max_length=500,
        error_messages={"required": "Say why; it is kept in the history with your name."},
    )


class ScoringModelForm(RevisionFormMixin, StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label="Why change the weights",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the weights change; it is kept with the new version."},
    )

    def __init__(self, *args, current=None, **kwargs):
        super().__init__(*args, **kwargs)
        for factor in FACTORS:
            self.fields[f"weight_{factor.name}"] = forms.DecimalField(
                label=factor.label,
                min_value=0,
                max_value=10,
                decimal_places=2,
                max_digits=4,
                initial=current.weights[factor.name] if current else None,
                help_text=f"Raises the score: {factor.high_means.lower()}.",
            )
        self.order_fields([*(f"weight_{f.name}" for f in FACTORS), "reason"])
        # Fields added after StyledFormMixin ran need their Bootstrap class.
        for name, field in self.fields.items():
            if name.startswith("weight_"):
                field.widget.attrs["class"] = "form-control"

    def weights(self) -> dict:
        return {f.name: self.cleaned_data[f"weight_{f.name}"] for f in FACTORS}
