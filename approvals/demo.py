"""Demo data of the approvals app (see `manage.py load_demo`)."""


def load(*, stdout=None) -> int:
    from .decisions import demo as decisions_demo

    return decisions_demo.load(stdout=stdout)
