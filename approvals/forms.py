from django import forms

from registry.choices import Team, WorkflowType
from revops_gov.concurrency import RevisionFormMixin
from revops_gov.forms import StyledFormMixin
from revops_gov.models import User

from .choices import TestKind, Verdict
from .models import ApprovalPacket


class PacketForm(RevisionFormMixin, StyledFormMixin, forms.ModelForm):
    class Meta:
        model = ApprovalPacket
        fields = [
            "workflow_step",
            "trigger",
            "rule",
            "owner",
            "exception_path",
            "audit_trail",
            "rollback_steps",
            "rollback_runner",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rollback_runner"].queryset = User.objects.filter(is_active=True).order_by("username")


class ReviewForm(StyledFormMixin, forms.Form):
    verdict = forms.ChoiceField(choices=Verdict.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea,
        help_text="Required to request changes or reject: say what must change.",
        max_length=4000,
    )


class TransitionForm(StyledFormMixin, forms.Form):
    to = forms.CharField(widget=forms.HiddenInput, max_length=20)
    reason = forms.CharField(required=False, max_length=2000, label="Why", help_text="Kept in the history.")


class AdoptForm(StyledFormMixin, forms.Form):
    """Documenting an automation found running in the CRM, to adopt it (issue 17)."""

    business_purpose = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, label="Why it exists")
    trigger = forms.CharField(required=False, max_length=2000, help_text="Filled from the CRM; correct it.")
    rule = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=4000)
    record_changed = forms.CharField(required=False, max_length=2000, label="Record changed")
    team = forms.ChoiceField(choices=Team.choices)
    workflow_type = forms.ChoiceField(choices=WorkflowType.choices, label="Workflow type")
    rule_owner = forms.ModelChoiceField(User.objects.filter(is_active=True), to_field_name="username")
    failure_owner = forms.ModelChoiceField(
        User.objects.filter(is_active=True), to_field_name="username", required=False
    )
    reason = forms.CharField(max_length=2000, label="Why adopt it", help_text="Kept in the lifecycle history.")


class RetireInCrmForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        max_length=2000, label="How it was retired in the CRM", help_text="Kept in the lifecycle history."
    )


class TickForm(StyledFormMixin, forms.Form):
    item = forms.CharField(widget=forms.HiddenInput, max_length=30)
    note = forms.CharField(max_length=2000, label="What proves it", error_messages={"required": "Say what proves it."})


class TestCaseForm(StyledFormMixin, forms.Form):
    """Write a case, or edit one (kind, situation, expected result); its runs are kept."""

    __test__ = False

    kind = forms.ChoiceField(choices=TestKind.choices)
    description = forms.CharField(
        max_length=2000, label="Case", error_messages={"required": "Describe the situation tested."}
    )
    expected = forms.CharField(
        max_length=2000, label="Expected result", error_messages={"required": "Write the expected result."}
    )


class TestRunForm(StyledFormMixin, forms.Form):
    """Record one run of a case against the automation's current registry version."""

    __test__ = False

    result = forms.ChoiceField(
        choices=[("passed", "Passed"), ("failed", "Failed")],
        widget=forms.RadioSelect,
        label="Result",
        error_messages={"required": "Say whether the case passed or failed."},
    )
    actual = forms.CharField(
        max_length=2000,
        label="Actual result",
        help_text="What happened when the case was run.",
        error_messages={"required": "Write the actual result: what happened when the case was run."},
    )
