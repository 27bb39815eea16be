"""Load tests that run the site under gunicorn on PostgreSQL: `python -m loadtests.storm`
and `python -m loadtests.faults`, on the shared `loadtests.harness`."""
