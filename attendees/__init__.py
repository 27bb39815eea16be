"""Check event attendees in and out: a kept history, a REST API, Django admin actions and a door page."""

__version__ = "1.1.0"
