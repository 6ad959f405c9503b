"""Reference server for Grafana's User HTTP API, routed from openapi.yaml."""

__version__ = "0.1.0"
