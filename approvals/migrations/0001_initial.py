# The approvals app starts with no tables: lifecycle/packets and the decision queue each add theirs.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = [("registry", "0001_initial")]
    operations = []
