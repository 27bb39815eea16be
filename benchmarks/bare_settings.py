"""The project's settings, with the bare views as the whole URLconf."""

from eventsite.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bare"
