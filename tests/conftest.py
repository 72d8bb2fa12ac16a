"""Shared fixtures: a private data directory per test, a frozen clock, certificates made on the spot."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from storage import Home
from tests import network_guard
from tests.factories import make_cert_files
from workbench.lab import Lab

network_guard.install()

# In CI the fuzz tests replay the same examples every run (a red build names a defect of the change, not a new find
# of the dice); on a developer's machine they explore, and what they find gets a fixed test.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `slow` run first. Tests marked `kerberos` need MIT Kerberos (the lab's KDC) and
    python-gssapi: skipped, saying what to install, where they are missing (CI installs them)."""
    from workbench.lab.kerberos import missing

    # The long tests first: under xdist a worker that draws one of them at the end finishes alone.
    items.sort(key=lambda item: "slow" not in item.keywords)
    reason = missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"Kerberos: {reason}")
    for item in items:
        if "kerberos" in item.keywords:
            item.add_marker(skip)


FROZEN_NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's data directory, keyring or passphrase."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WORKBENCH_VAULT", "key-file")
    monkeypatch.delenv("WORKBENCH_PASSPHRASE", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    old_umask = os.umask(0o077)
    yield
    os.umask(old_umask)


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    """Fail any test during which something tried to reach a non-loopback address, even if the code under test
    swallowed the guard's error."""
    before = len(network_guard.violations)
    yield
    new = network_guard.violations[before:]
    assert not new, "network access outside loopback: " + "; ".join(new)


@pytest.fixture
def now() -> datetime:
    return FROZEN_NOW


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PFX/PEM files covering the import cases (made once: RSA key generation is slow)."""
    return make_cert_files(tmp_path_factory.mktemp("certs"), FROZEN_NOW - timedelta(days=1))


@pytest.fixture(scope="session")
def healthy_lab() -> Iterator[Lab]:
    with Lab(mailboxes=5, auto_approve=0.5, seed=7) as lab:
        yield lab


@pytest.fixture
def make_lab() -> Iterator[Callable[..., Lab]]:
    started: list[Lab] = []

    def start(scenarios: str = "", **kwargs: Any) -> Lab:
        kwargs.setdefault("mailboxes", 3)
        lab = Lab(scenarios, **kwargs)
        lab.start()
        started.append(lab)
        return lab

    yield start
    for lab in started:
        lab.stop()
