from django.core import mail

from revops_gov.notifications import Line, Section, send_digest, send_notice
from tests.factories import UserFactory


def test_a_digest_lists_every_section_with_absolute_links(db, settings):
    settings.REVOPS = {**settings.REVOPS, "SITE_URL": "https://revops.example.com"}
    user = UserFactory(email="morgan@example.com", first_name="Morgan", last_name="M")
    sent = send_digest(
        user=user,
        subject="2 decisions wait for you",
        sections=[Section("Decisions", [Line("Merge Acme duplicates", "/decisions/1/"), Line("Route Globex")])],
    )
    assert sent
    (message,) = mail.outbox
    assert message.to == ["morgan@example.com"]
    assert message.subject == "[RevOps Governance] 2 decisions wait for you"
    assert "Hello Morgan M" in message.body
    assert "- Merge Acme duplicates\n  https://revops.example.com/decisions/1/" in message.body
    assert "- Route Globex" in message.body


def test_no_digest_when_nothing_waits(db):
    user = UserFactory(email="morgan@example.com")
    assert not send_digest(user=user, subject="Nothing", sections=[Section("Decisions", [])])
    assert mail.outbox == []


def test_a_person_without_an_address_gets_nothing(db):
    user = UserFactory(email="")
    assert not send_notice(user=user, subject="Finding opened", lines=[Line("Lead routing did not run")])
    assert mail.outbox == []


def test_text_is_sent_as_written_not_html_escaped(db):
    user = UserFactory(email="a@example.com")
    send_notice(user=user, subject="x", lines=[Line("Owner <Sales Ops> & RevOps")])
    assert "Owner <Sales Ops> & RevOps" in mail.outbox[0].body
