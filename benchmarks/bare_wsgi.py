"""WSGI entry point of the bare views: `gunicorn benchmarks.bare_wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.bare_settings"

application = get_wsgi_application()
