"""TestCase.passed/actual are gone: a case's results are its runs (0005 copied them)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0005_test_runs"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="historicaltestcase",
            name="actual",
        ),
        migrations.RemoveField(
            model_name="historicaltestcase",
            name="passed",
        ),
        migrations.RemoveField(
            model_name="testcase",
            name="actual",
        ),
        migrations.RemoveField(
            model_name="testcase",
            name="passed",
        ),
    ]
