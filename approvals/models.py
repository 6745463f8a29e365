from .decisions.models import *  # noqa: F403 - the decision queue's models live in their own package
