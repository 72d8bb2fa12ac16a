"""A new secret is tried before it is kept: the lab's token endpoint (or server) refuses a wrong one, takes the
right one, and the trial asks nothing else of the connection's secrets (issue 19, item 17)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.engine.conftest import m365_connection, onprem_connection, target
from workbench.lab import Lab
from workbench.model import Secret
from workbench.secret_trial import TOKEN_CHECK, refused, trial_check, try_secret


def trial(lab: Lab, kind: str, secret: str, check: str) -> tuple[bool, str]:
    state = lab.state
    connection = m365_connection(state) if kind == "m365" else onprem_connection(state, "fqdn")
    asked: list[str] = []
    base = target(state, connection)

    def secret_of(ref: str) -> Secret | None:
        asked.append(ref)
        return base.secret(ref)

    probe = trial_check(connection, check)
    result = asyncio.run(
        asyncio.wait_for(try_secret(dataclasses.replace(base, secret=secret_of), Secret(secret), probe), 60)
    )
    assert result is not None and result.check == probe
    assert "lab-secret" not in asked and "lab-password" not in asked  # only the value being tried was used
    code = result.outcome.problem.code if result.outcome.problem else ""
    return refused(result), code


def test_a_client_secret_entra_refuses_is_refused(healthy_lab: Lab) -> None:
    assert trial(healthy_lab, "m365", "not-the-secret", "m365.credential") == (True, "AADSTS7000215")


def test_the_right_client_secret_is_taken(healthy_lab: Lab) -> None:
    assert trial(healthy_lab, "m365", healthy_lab.state.m365.client_secret, "m365.token.ews") == (False, "")


def test_microsoft_365_is_tried_at_the_token_endpoint() -> None:
    from tests.conftest import FROZEN_NOW
    from workbench.drafts import M365Draft, Stamp
    from workbench.model import ClientSecretCredential

    connection = M365Draft(
        tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        client_id="11111111-2222-3333-4444-555555555555",
        app_account="backup@contoso.com",
    ).build(ClientSecretCredential(secret_ref=None), Stamp("id", FROZEN_NOW))
    assert trial_check(connection, "m365.credential") == TOKEN_CHECK


@pytest.mark.kerberos
def test_a_password_the_server_refuses_is_refused(healthy_lab: Lab) -> None:
    refusal, code = trial(healthy_lab, "onprem", "not-the-password", "onprem.powershell")
    assert refusal and code
    assert trial(healthy_lab, "onprem", healthy_lab.state.onprem.admin_password, "onprem.powershell") == (False, "")
