"""The read replica: a second PostgreSQL database stands in for it, holding rows the primary does
not, so each read shows which database answered. Lists, the dashboard and exports read the
replica; detail pages, the permit, the API, writes, sessions and roles read the primary."""

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.test import override_settings

from registry.models import Automation
from revops_gov.db_routers import REPLICA, ReplicaRouter, lag_tolerant
from tests.factories import UserFactory, integration_token
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _postgres_params():
    db = connection.settings_dict
    return {"host": db.get("HOST") or "localhost", "port": db.get("PORT") or 5432, "user": db["USER"]}


@pytest.fixture
def replica(transactional_db):
    """A copy of the (migrated, empty) test database under another name, wired in as `replica`,
    then the router switched on. Rows written afterwards exist in one database only."""
    if connection.vendor != "postgresql":
        pytest.skip("The replica test needs PostgreSQL (CI runs it there).")
    source = connection.settings_dict["NAME"]
    name = f"{source}_replica"
    connections.close_all()
    with psycopg.connect(dbname="postgres", autocommit=True, **_postgres_params()) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        # A template may have no other session: connections another thread of this process left
        # open (a live server's, an earlier test's) are closed first.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (source,),
        )
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    # Wired in as a connection made at run time (as Django's test case allows), not a configured
    # alias: the test case checks configured aliases against the ones it set up.
    connections.settings[REPLICA] = {**connection.settings_dict, "NAME": name, "TEST": {}}
    replica_connection = connections.create_connection(REPLICA)
    del connections.settings[REPLICA]
    setattr(connections._connections, REPLICA, replica_connection)
    try:
        with override_settings(DATABASE_ROUTERS=["revops_gov.db_routers.ReplicaRouter"]):
            yield name
    finally:
        replica_connection.close()
        delattr(connections._connections, REPLICA)
        with psycopg.connect(dbname="postgres", autocommit=True, **_postgres_params()) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _only_on_replica(key):
    """A row the replica has and the primary does not (as if the primary had since deleted it)."""
    owner = UserFactory.build(username=f"owner-of-{key}")
    owner.save(using=REPLICA)
    AutomationFactory.build(key=key, name="Only on the replica", rule_owner=owner).save(using=REPLICA)


def test_lists_and_the_dashboard_read_the_replica_while_who_you_are_comes_from_the_primary(replica, client, admin):
    primary_only = AutomationFactory(key="only-on-primary", name="Only on the primary")
    _only_on_replica("only-on-replica")
    # The admin exists on the primary only: signing in and the role check must not read the replica.
    client.force_login(admin)

    listing = client.get("/automations/")

    assert listing.status_code == 200
    text = listing.content.decode()
    assert "Only on the replica" in text and "Only on the primary" not in text
    export = b"".join(client.get("/automations/export.csv").streaming_content).decode()
    assert "only-on-replica" in export and "only-on-primary" not in export
    assert client.get("/dashboard/").status_code == 200
    # A detail page is not lag-tolerant: it reads the primary.
    assert client.get(f"/automations/{primary_only.key}/").status_code == 200
    assert client.get("/automations/only-on-replica/").status_code == 404


def test_the_permit_the_api_and_writes_use_the_primary(replica, client, admin):
    automation = AutomationFactory(key="routing", system="salesforce")
    _only_on_replica("ghost")
    token = integration_token(name="sf", system="salesforce")
    api = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    assert client.get(f"/api/v1/automations/{automation.key}/permit/", **api).status_code == 200
    keys = [row["key"] for row in client.get("/api/v1/automations/", **api).json()["results"]]
    assert keys == ["routing"]

    client.force_login(admin)
    client.get("/automations/")  # a replica read first, then a write in the same process
    AutomationFactory(key="written-after")
    assert Automation.objects.using("default").filter(key="written-after").exists()
    assert not Automation.objects.using(REPLICA).filter(key="written-after").exists()


def test_reads_inside_a_transaction_and_outside_the_lag_tolerant_block_use_the_primary(replica):
    router = ReplicaRouter()
    assert router.db_for_read(Automation) == "default"
    with lag_tolerant():
        assert router.db_for_read(Automation) == REPLICA
        with transaction.atomic():
            assert router.db_for_read(Automation) == "default"
        from revops_gov.models import User

        assert router.db_for_read(User) == "default"
    assert router.db_for_write(Automation) == "default"
    assert not router.allow_migrate(REPLICA, "registry")
