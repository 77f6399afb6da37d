"""REST API (FastAPI, OpenAPI) and the web dashboard, served from one app."""

from edgetwin.server.app import create_app
from edgetwin.server.auth import TokenStore

__all__ = ["TokenStore", "create_app"]
