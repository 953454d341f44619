"""The archive's REST API (FastAPI): `create_app(settings, sessions, index, classes, views)`."""

from landrec.archive.web.app import create_app

__all__ = ["create_app"]
