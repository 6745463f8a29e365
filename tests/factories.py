"""Factories for people and tokens, shared by every app's tests."""

import factory

from revops_gov import services
from revops_gov.models import User
from revops_gov.roles import Role

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        if create and extracted:
            user.groups.add(services.role_group(Role(extracted)))


def integration_token(*, name: str, system: str) -> str:
    """A raw bearer token of a new integration for `system`."""
    _, raw = services.integration_create(name=name, system=system)
    return raw


def personal_token(user) -> str:
    _, raw = services.api_token_create(user=user, name="test", by=user)
    return raw
