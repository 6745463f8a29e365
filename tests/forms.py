"""What a browser posts from a form page as it was opened: every field's shown value."""

from django import forms


def opened_form(client, url, name="form") -> dict:
    """GET the page and return its form's values as POST data (the hidden revision included)."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    form = response.context[name]
    data = {}
    for bound in form:
        value = bound.value()
        if isinstance(bound.field.widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
            continue
        if isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data
