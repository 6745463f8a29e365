from django import forms

from revops_gov.choices import System


class UploadForm(forms.Form):
    system = forms.ChoiceField(label="System", choices=System.choices, initial=System.SALESFORCE)
    file = forms.FileField(
        label="Metadata",
        help_text="A .zip of a Salesforce DX project or metadata retrieve, or HubSpot v4 flows JSON.",
    )


class CompareForm(forms.Form):
    older = forms.IntegerField(label="Older snapshot", min_value=1)
    newer = forms.IntegerField(label="Newer snapshot", min_value=1)


class LinkForm(forms.Form):
    external_id = forms.CharField(label="CRM automation", max_length=200)
    automation = forms.SlugField(label="Registry automation (key)", max_length=100)
