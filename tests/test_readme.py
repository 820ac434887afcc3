"""Every curl example in the README, run as written against a served index (only the
address changes, to the test server's port), with the report files it names."""

import os
import re
import subprocess


from retrieval.embedding.encoders import HashingEncoder
from retrieval.engine import Engine
from service.app import ServiceConfig, create_app

from .conftest import ROOT, engine_config
from .servers import running_server


def readme_curl_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    commands = []
    for block in blocks:
        for command in re.sub(r"\\\n\s*", "", block).splitlines():
            if "curl " in command:
                commands.append(command)
    return commands


def test_the_readme_shows_curl_examples():
    assert len(readme_curl_commands()) >= 8


def test_every_readme_curl_example_works_as_written(project, tmp_path):
    engine = Engine(engine_config(project), encoder=HashingEncoder(64))
    engine.load()
    (tmp_path / "report.txt").write_bytes("杭州市生态环境局2024年工作总结\n一、成效\n全市PM2.5浓度28微克/立方米。".encode("gbk"))
    (tmp_path / "report-v2.txt").write_text("杭州市生态环境局2024年工作总结\n一、成效\n全市PM2.5浓度27微克/立方米。",
                                            encoding="utf-8")
    with running_server(create_app(engine, ServiceConfig(api_key="secret"))) as url:
        address = url.removeprefix("http://")
        # --fail-with-body: an HTTP error fails the command, as a person reading its output would see.
        script = "set -euo pipefail\ncurl() { command curl --fail-with-body \"$@\"; }\n" + "\n".join(
            c.replace("localhost:8000", address) + " >/dev/null" if not c.startswith("etag=") else c.replace("localhost:8000", address)
            for c in readme_curl_commands())
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env={**os.environ})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "005_hangzhou_2024" not in engine.documents()  # the last example deleted it


def test_the_readme_python_client_example_runs(fake_engine, capsys):
    (example,) = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    with running_server(create_app(fake_engine)) as url:
        exec(example.replace("http://127.0.0.1:8000", url), {})
    printed = capsys.readouterr().out
    assert "厦门" in printed and "797" in printed
