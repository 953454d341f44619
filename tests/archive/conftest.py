"""Fixtures of the archive's tests: a real PostgreSQL server (Debian's binaries, run as the
`postgres` user in a temporary folder) and `db_url`, one test database per backend."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.session import open_database
from landrec.data.transforms import Preprocessing
from landrec.engine.checkpoint import CheckpointMeta
from landrec.engine.onnx import export_module, set_meta
from landrec.models.factory import ModelConfig

from .servers import Postgres, running


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL server for this test session (Debian's binaries, a temporary folder)."""
    yield from running(Postgres())


@pytest.fixture(scope="session")
def postgres_url(postgres_server: Postgres) -> str:
    """The URL of the session server's `postgres` database."""
    return postgres_server.url


@pytest.fixture
def fresh_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped afterwards."""
    name = f"test_{abs(hash(request.node.nodeid)):x}_{time.monotonic_ns()}"
    server: Postgres = request.getfixturevalue("postgres_server")
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database's URL: a SQLite file, then a PostgreSQL database (parametrized)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return str(request.getfixturevalue("fresh_postgres"))


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated, empty database of each backend; the engine closed after."""
    maker = open_database(db_url)
    yield maker
    engine = maker.kw["bind"]
    engine.dispose()


class MeanColour(torch.nn.Module):
    """Logits from the mean red minus the mean blue: red images are "red", blue ones "blue"
    (a random-init network gives every image the same class, so no filter or timeline
    would have anything to show)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[2.0, 0.0, -2.0], [-2.0, 0.0, 2.0]]))
            self.linear.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, 2)
        return self.linear(x.mean(dim=(2, 3)))


class MeanColourViews(MeanColour):
    """`MeanColour`'s class logits, then two view logits from the mean green: a green-ish
    image (green above mid-grey: yellow, green) is "overhead", any other "ground" (what a model
    trained on a sources file outputs: the classes' logits, then the views')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, 2 + 2)
        green = x[:, 1].mean(dim=(1, 2)).unsqueeze(1)  # (B, 1), -1..1
        return torch.cat([super().forward(x), -3 * green, 3 * green], 1)


def write_colour_model(
    path: Path, classes: list[str], name: str, views: tuple[str, ...] = ()
) -> Path:
    """`MeanColour` exported to ONNX at `path`, its classes named `classes` (red's logit
    first); with `views` (ground, overhead), `MeanColourViews`."""
    module = MeanColourViews() if views else MeanColour()
    export_module(module, torch.zeros(1, 3, 32, 32), path)
    pre = Preprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    config = ModelConfig("mobilenet_v2", 2, views=views)
    set_meta(path, CheckpointMeta(classes, config, pre, name, random_init=True))
    return path


@pytest.fixture(scope="session")
def colour_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported ONNX classifier (classes red, blue) that the service loads like any."""
    return write_colour_model(
        tmp_path_factory.mktemp("model") / "colour.onnx", ["red", "blue"], "mean colour"
    )


@pytest.fixture(scope="session")
def view_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported ONNX classifier with views: classes red, blue; views ground, overhead
    (`MeanColourViews`: a green-ish image is overhead)."""
    return write_colour_model(
        tmp_path_factory.mktemp("model") / "colour-views.onnx",
        ["red", "blue"],
        "mean colour, views",
        ("ground", "overhead"),
    )
