"""Integration tests run against the lab (``sudo asterisk-rec lab up``). Without it they fail; they never
skip, so a CI run without a lab is red."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from asterisk_rec.config import Settings, load_settings
from asterisk_rec.lab import LabSettings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)
    # Restarting the lab comes last, so it disturbs no other test.
    items.sort(key=lambda item: item.get_closest_marker("restarts_lab") is not None)


@pytest.fixture(scope="session")
def lab_env_file() -> Path:
    path = Path(os.environ.get("ASTERISK_REC_ENV_FILE") or LabSettings.from_environment().env_file)
    if not path.is_file():
        pytest.fail(f"the lab is not up (no {path}): run `sudo asterisk-rec lab up`, or `./run test`")
    return path


@pytest.fixture(scope="session")
def settings(lab_env_file: Path) -> Settings:
    settings = load_settings(config_file=None, env_file=lab_env_file, environ={})
    try:
        httpx.get(settings.ari.url + "ari/asterisk/ping", timeout=3,
                  auth=(settings.ari.user, settings.ari.password.reveal())).raise_for_status()
    except httpx.HTTPError as err:
        pytest.fail(f"the lab's Asterisk does not answer at {settings.ari.url} ({err}): run `sudo asterisk-rec lab up`")
    return settings
