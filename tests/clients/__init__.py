"""Grafana client libraries against the server, run in an environment of their own.

grafana-client brings niquests and urllib3-future, which replaces the `urllib3` package
that schemathesis and requests use; so these tests run in `.venv/clients` (`make test`
sets it up with the `clients` extra), apart from the suite.
"""
