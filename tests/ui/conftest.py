"""Console tests: a real data directory in a temporary folder, real connections verified against the lab, a
frozen wall clock and UTC, and no blinking cursors or button flashes (so screenshots are deterministic)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input

from storage import Home
from tests.conftest import FROZEN_NOW
from workbench import certificates
from workbench.drafts import M365Draft, OnPremDraft, Stamp
from workbench.lab import Lab
from workbench.model import ClientSecretCredential, Connection, Secret


@pytest.fixture(autouse=True)
def _steady_widgets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(Button, "_start_active_affect", lambda self, *a, **k: None)
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield


def stamp(name: str) -> Any:
    return Stamp(f"id-{name}", FROZEN_NOW)


def lab_m365(home: Home, lab: Lab, name: str, secret: str | None = None) -> Connection:
    m = lab.state.m365
    changes = home.changeset()
    ref = changes.stage_secret(Secret(secret if secret is not None else m.client_secret))
    connection = M365Draft(
        tenant_id=m.tenant_id,
        client_id=m.client_id,
        app_account=m.app_account,
        name=name,
        cloud="custom",
        authority_host=m.authority_host,
        graph_url=m.graph_url,
        ews_url=m.ews_url,
        ca_bundle=lab.state.ca_bundle,
    ).build(ClientSecretCredential(secret_ref=ref), stamp(name))
    changes.add(connection)
    changes.commit()
    return connection


def lab_onprem(
    home: Home, lab: Lab, name: str, *, trusted: bool = True, password: str | None = None, autodiscover: bool = False
) -> Connection:
    o = lab.state.onprem
    changes = home.changeset()
    ref = changes.stage_secret(Secret(password if password is not None else o.admin_password))
    fields: dict[str, Any] = {
        "admin_upn": o.admin_upn,
        "name": name,
        "discovery": "manual",
        "server": o.server_fqdn,  # its own name, through the lab's DNS: Kerberos asks for HTTP/exch01.fabrikam.test
        "dns_servers": [o.dns],
    }
    if autodiscover:
        fields |= {"discovery": "autodiscover", "server": ""}
    if trusted:
        fields["ca_bundle"] = lab.state.ca_bundle
    connection = OnPremDraft(**fields).build(ref, stamp(name))
    changes.add(connection)
    changes.commit()
    return connection


def lab_certificate(home: Home, lab: Lab) -> None:
    m = lab.state.m365
    loaded = certificates.load_file(Path(m.certificate_pfx), Secret(m.certificate_password), FROZEN_NOW)
    home.certificates.add(loaded.info, loaded.key_pem)


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Let the app run until `condition` holds (a verification finished, a dialog opened)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the console did not get there in time")
        await pilot.pause(0.05)
    await pilot.pause()


def wizard_watched(screen: Any) -> bool:
    """The wizard's Configuration step has looked at its verification as it is now (it does so when the run
    announces a change: whether Finish is possible, the learned name, the report of a registration)."""
    from screens.wizard.configuration import ConfigurationStep

    steps = screen.query(ConfigurationStep)
    if not steps:
        return False
    step = steps.first()
    live = step.live
    if live is None:
        return False
    now = (id(live), live.running, live.board.summary, screen.wizard_draft.learned_domain)
    return bool(step._seen == now)


@pytest.fixture
def snap_compare(snap_compare: Callable[..., bool]) -> Callable[..., bool]:
    """The plugin's `snap_compare`, and at 80x24 the promise that everything fits: no line of the picture ends in
    a word cut short without an ellipsis (`fit.cut_words`)."""
    from tests.ui.fit import cut_words

    def compare(app: Any, *, terminal_size: tuple[int, int] = (80, 24), run_before: Any = None, **kwargs: Any) -> bool:
        cuts: list[str] = []

        async def before(pilot: Pilot[Any]) -> None:
            if run_before is not None:
                await run_before(pilot)
            if terminal_size == (80, 24):
                cuts.extend(cut_words(pilot.app))

        same = snap_compare(app, terminal_size=terminal_size, run_before=before, **kwargs)
        assert not cuts, "cut without an ellipsis at 80x24:\n" + "\n".join(cuts)
        return same

    return compare
