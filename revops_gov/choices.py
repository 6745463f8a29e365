from django.db import models


class System(models.TextChoices):
    """The CRM or go-to-market system an automation runs in; an integration token belongs to one."""

    SALESFORCE = "salesforce", "Salesforce"
    HUBSPOT = "hubspot", "HubSpot"
    DYNAMICS = "dynamics", "Microsoft Dynamics 365"
    MARKETO = "marketo", "Marketo"
    OUTREACH = "outreach", "Outreach"
    GAINSIGHT = "gainsight", "Gainsight"
    ZENDESK = "zendesk", "Zendesk"
    OTHER = "other", "Other"
