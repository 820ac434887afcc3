"""Run one write against a project and kill the process at a named step of it:
`python -m tests.crash_write PROJECT BACKEND OP STEP`. Exits 86 when it died at STEP, 0 when
the write finished without passing it. OP is build, add, replace or delete."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

from retrieval.backends import BackendConfig
from retrieval.embedding.encoders import HashingEncoder
from retrieval.engine import Engine

from .conftest import engine_config

CRASHED = 86
NEW_REPORT = "杭州市生态环境局2024年工作总结\n一、成效\n全市PM2.5浓度28微克/立方米。\n二、计划\n空气优良率力争达到92%。"
REPLACEMENT = "温州市生态环境局2023年工作总结\n一、成效\n全市行政处罚案件800件。"
REPLACED = "000_151f93f2618fcf8d"


def engine_for(project: Path, backend: str, checkpoint=None) -> Engine:
    config = replace(engine_config(project), backend=BackendConfig(kind=backend))
    return Engine(config, encoder=HashingEncoder(64), **({"checkpoint": checkpoint} if checkpoint else {}))


def main(project: str, backend: str, op: str, step: str) -> int:
    def checkpoint(name: str) -> None:
        if name == step:
            os._exit(CRASHED)  # no clean-up of any kind, as kill -9 would leave it

    engine = engine_for(Path(project), backend, checkpoint)
    if op == "build":
        engine.build()
        return 0
    engine.load()
    if op == "add":
        engine.add_document("005_hangzhou", NEW_REPORT.encode())
    elif op == "replace":
        engine.add_document(REPLACED, REPLACEMENT.encode(), replace=True)
    elif op == "delete":
        engine.delete_document("004_68a3d04b2fc60ef8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
