"""The routes' dependencies: a database session per request, the settings, the model's classes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from landrec.archive.settings import ArchiveSettings


def get_session(request: Request) -> Iterator[Session]:
    """A session from the app's sessionmaker, closed once the response is made."""
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> ArchiveSettings:
    settings: ArchiveSettings = request.app.state.settings
    return settings


def get_classes(request: Request) -> list[str] | None:
    """The model's classes (the allowed corrections); None: any well-formed name."""
    classes: list[str] | None = request.app.state.classes
    return classes


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[ArchiveSettings, Depends(get_settings)]
ClassesDep = Annotated[list[str] | None, Depends(get_classes)]
