"""The platform's front door: REST API, environment routing, request ids, metrics."""
