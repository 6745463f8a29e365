import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.filters import AutomationFilter
from registry.selectors import automation_queryset, registry_attention_counts
from tests.registry.factories import AutomationFactory, DataFieldFactory

pytestmark = pytest.mark.django_db


def test_attention_counts_equal_the_filtered_lists_they_link_to(admin):
    deprecated = DataFieldFactory(status="deprecated")
    AutomationFactory.create_batch(3, failure_owner=None)
    AutomationFactory.create_batch(2, data_fields=[deprecated])
    AutomationFactory.create_batch(4, uses_ai=True)
    counts = registry_attention_counts()

    def listed(**params):
        return AutomationFilter(params, queryset=automation_queryset()).qs.count()

    assert counts["missing_failure_owner"] == listed(missing_owner="failure_owner") == 3
    assert counts["uses_untrusted_field"] == listed(uses_untrusted_field="true") == 2
    assert counts["high_tier"] == listed(tier="high") == 4
    assert counts["total"] == 9


def test_integration_scope_limits_the_list_to_one_system():
    AutomationFactory(system="salesforce")
    AutomationFactory(system="hubspot")
    assert list(automation_queryset(system="hubspot").values_list("system", flat=True)) == ["hubspot"]


def test_list_queryset_reads_owners_fields_and_tags_in_constant_queries():
    field = DataFieldFactory()

    def queries_for(n):
        for _ in range(n):
            AutomationFactory(data_fields=[field])
        with CaptureQueriesContext(connection) as ctx:
            for automation in automation_queryset():
                _ = (
                    automation.rule_owner,
                    automation.failure_owner,
                    list(automation.data_fields.all()),
                    list(automation.tags.all()),
                )
        return len(ctx.captured_queries)

    assert queries_for(3) == queries_for(30)


def test_attention_counts_follow_every_change(admin, manager):
    from registry import services
    from registry.choices import OwnerRole

    automation = AutomationFactory(failure_owner=None)
    assert registry_attention_counts()["missing_failure_owner"] == 1  # now cached
    services.automations_assign_owner(
        automations=[automation], role=OwnerRole.FAILURE, owner=manager, by=admin, reason="Stock-take"
    )
    assert registry_attention_counts()["missing_failure_owner"] == 0
