"""Demo people: a small RevOps team with managers, admins and viewers (see `manage.py load_demo`)."""

from .models import User
from .roles import Role
from .services import user_create

DEMO_PASSWORD = "revops-demo"

# username, first, last, role, manager, superuser
PEOPLE = (
    ("alex", "Alex", "Rivera", Role.ADMIN, None, True),
    ("jordan", "Jordan", "Lee", Role.ADMIN, "alex", False),
    ("morgan", "Morgan", "Chen", Role.MANAGER, None, False),
    ("maria", "Maria", "Santos", Role.MANAGER, None, False),
    ("priya", "Priya", "Patel", Role.MANAGER, None, False),
    ("frank", "Frank", "Okafor", Role.MANAGER, None, False),
    ("sam", "Sam", "Taylor", Role.VIEWER, "morgan", False),
    ("casey", "Casey", "Kim", Role.VIEWER, "maria", False),
    ("dana", "Dana", "Novak", Role.VIEWER, "priya", False),
)

LOGINS = (("RevOps admin", "alex"), ("Manager", "morgan"), ("Viewer", "sam"))


def load(*, stdout=None) -> int:
    created = 0
    for username, first, last, role, manager, superuser in PEOPLE:
        if User.objects.filter(username=username).exists():
            continue
        user_create(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@example.com",
            role=role,
            password=DEMO_PASSWORD,
            manager=User.objects.filter(username=manager).first() if manager else None,
            is_superuser=superuser,
        )
        created += 1
    return created
