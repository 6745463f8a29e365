"""Issue 16: every number on the dashboard is the size of the list it opens, for each role.

The test reads the dashboard as a person would: it follows every link of every tile and of the
maturity reasons, as that person, and counts the rows of the page it opens."""

import re
from datetime import date, timedelta

import lxml.html
import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.choices import PacketState
from tests.approvals.decisions.factories import DecisionRequestFactory, LiveAutomationFactory
from tests.approvals.factories import PacketFactory
from tests.backlog.factories import CandidateFactory
from tests.factories import UserFactory
from tests.health.factories import FindingFactory
from tests.health.reviews.factories import HealthReviewFactory, HealthReviewRowFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db

ROLES = ("revops_admin", "manager", "viewer")

# The rows of each list a dashboard link may open, by the path it opens.
ROWS = {
    "/automations/": "//table[contains(@class, 'table-registry')]/tbody/tr[not(td[@colspan])]",
    "/findings/": "//table/tbody/tr[not(td[@colspan])]",
    "/backlog/": "//li[contains(@class, 'candidate-card')]",
    "/decisions/": "//*[contains(concat(' ', @class, ' '), ' decision-card ')]",
    "/decisions/team/": "//*[contains(concat(' ', @class, ' '), ' decision-card ')]",
    "/approvals/waiting/": "//*[contains(concat(' ', @class, ' '), ' packet-row ')]",
    "/reviews/<month>/": "//table/tbody/tr[not(td[@colspan])]",
}


def _list_path(url: str) -> str:
    return re.sub(r"^/reviews/\d{4}-\d{2}/$", "/reviews/<month>/", url.split("?")[0])


def _world(people: dict):
    """Data that exercises every disagreement issue 16 found."""
    past = timezone.now() - timedelta(days=400)
    owner = UserFactory()
    # Governed, live: every owner, an approved packet of its current version, reviewed today.
    LiveAutomationFactory(system_owner=owner, support_contact=owner, risk_tier_override="high")
    # Live, approved, but due for review.
    LiveAutomationFactory(system_owner=owner, support_contact=owner, last_reviewed_at=past)
    # Live without an approved packet (and without a system owner).
    AutomationFactory(status="live")
    # Retired and high tier: the tier tile leaves it out, so must its list.
    AutomationFactory(status="retired", risk_tier_override="high")
    paused = AutomationFactory(status="paused", last_reviewed_at=past)
    FindingFactory(automation=paused, severity="high")
    FindingFactory(automation=paused, severity="low", status="resolved")
    # Decisions: one past due, one not.
    DecisionRequestFactory(due_at=timezone.now() - timedelta(hours=1))
    DecisionRequestFactory()
    # Packets awaiting approval: one submitted by each person reading, one by someone else.
    for submitter in (*people.values(), UserFactory(role="revops_admin")):
        automation = AutomationFactory(status="in_design")
        PacketFactory(
            automation=automation,
            state=PacketState.SUBMITTED,
            automation_version=automation.version,
            submitted_by=submitter,
            submitted_at=timezone.now(),
        )
    # Backlog: one ready, one ready but deferred (the board does not show it), one new.
    CandidateFactory(ready=True)
    CandidateFactory(ready=True, status="deferred")
    CandidateFactory()
    # The latest monthly review: three rows, one confirmed.
    review = HealthReviewFactory(month=date(2026, 10, 1))
    for confirmed in (True, False, False):
        HealthReviewRowFactory(
            review=review,
            automation=AutomationFactory(status="paused"),
            confirmed_by=owner if confirmed else None,
            confirmed_at=timezone.now() if confirmed else None,
        )


def _links(html: str) -> list[tuple[str, str, int | None]]:
    """(label, href or "", number) of every tile and every maturity reason on the dashboard."""
    doc = lxml.html.fromstring(html)
    found = []
    for tile in doc.xpath("//*[contains(concat(' ', @class, ' '), ' dashboard-tile ')]"):
        badge = tile.xpath(".//span[contains(@class, 'badge')]")[0]
        label = " ".join(tile.text_content().replace(badge.text_content(), "").split())
        found.append((label, tile.get("href", ""), int(badge.text_content().strip())))
    for reason in doc.xpath("//ul[@id='maturity-reasons']/li/a"):
        text = " ".join(reason.text_content().split())
        number = re.match(r"(\d+) ", text)
        found.append((text, reason.get("href"), int(number.group(1)) if number else None))
    for waiting in doc.xpath("//section[@aria-labelledby='review-heading']//p/a"):
        text = " ".join(waiting.text_content().split())
        found.append((text, waiting.get("href"), int(re.match(r"(\d+) ", text).group(1))))
    return found


def _rows(client, url: str) -> int:
    path, kind = url.split("?")[0], _list_path(url)
    rows, page = 0, url
    while page:
        response = client.get(page)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        doc = lxml.html.fromstring(response.content.decode())
        rows += len(doc.xpath(ROWS[kind])) if kind in ROWS else 0
        following = doc.xpath("//a[@class='page-link'][normalize-space()='Next']/@href")
        page = path + following[0] if following and following[0].startswith("?") else None
    return rows


@pytest.mark.parametrize("role", ROLES)
def test_every_number_on_the_dashboard_is_the_size_of_the_list_it_opens(client, role):
    people = {name: UserFactory(role=name) for name in ROLES}
    _world(people)
    client.force_login(people[role])

    links = _links(client.get(reverse("dashboard:dashboard")).content.decode())

    labels = [label for label, _url, _n in links]
    packets = "Packets awaiting approval" if role == "viewer" else "Packets waiting for your review"
    for expected in ("Reviews overdue", packets, "Backlog ready to automate", "High tier"):
        assert expected in labels, labels
    assert any("due for review" in label for label in labels), labels
    assert any("no approved packet" in label for label in labels), labels
    assert "2 waiting for an admin" in labels, labels
    wrong = []
    for label, url, number in links:
        if not url:
            continue
        rows = _rows(client, url)
        if number is not None and _list_path(url) not in ROWS:
            wrong.append(f"{label!r} says {number}, and the test cannot count the rows of {url}")
        elif number is not None and rows != number:
            wrong.append(f"{label!r} says {number}, {url} lists {rows}")
    assert not wrong, f"as {role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_a_tile_links_only_to_a_page_the_role_may_open(client, role):
    people = {name: UserFactory(role=name) for name in ROLES}
    _world(people)
    client.force_login(people[role])
    links = _links(client.get(reverse("dashboard:dashboard")).content.decode())
    for label, url, _number in links:
        if url:
            assert client.get(url).status_code == 200, f"{label} → {url} as {role}"
    packets = next((label, url, n) for label, url, n in links if label.startswith("Packets"))
    if role == "viewer":  # every packet awaiting approval, without a link to a page a viewer may not open
        assert packets == ("Packets awaiting approval", "", 4)
    else:  # those the person may review: not their own submission
        assert packets == ("Packets waiting for your review", reverse("approvals:waiting"), 3)
