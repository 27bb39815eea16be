"""Load tests that run the site under gunicorn on PostgreSQL: `python -m loadtests.storm`."""
