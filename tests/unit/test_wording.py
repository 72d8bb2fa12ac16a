"""What the admin reads names things as the admin knows them: no internal id (a check id like
`m365.token.graph`, a document path like `settings.password_ref`) reaches a problem's text, a skipped check's
reason, or a pending change's field name."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest

from storage import Change, ChangeKind
from tests.conftest import FROZEN_NOW
from workbench.checks import online, onprem, problems
from workbench.checks.engine import Context, Plan, Run
from workbench.checks.events import Finished, Outcome, Status
from workbench.describe import field_label
from workbench.drafts import M365Draft, OnPremDraft, Stamp
from workbench.model import (
    CertificateCredential,
    ClientSecretCredential,
    Connection,
    M365Settings,
    OnPremSettings,
    TlsTrust,
    TrustMode,
)

INTERNAL = re.compile(r"\b(m365|onprem|register|settings|credential|tls|custom_endpoints|app_registration)\.\w")


def catalogue() -> list[problems.Problem]:
    return [value for value in vars(problems).values() if isinstance(value, problems.Problem)]


def test_the_catalogue_is_walked() -> None:
    assert len(catalogue()) > 50


@pytest.mark.parametrize("problem", catalogue(), ids=lambda p: p.code)
def test_no_problem_text_names_an_internal_id(problem: problems.Problem) -> None:
    texts = [problem.title, *problem.causes, *(fix.text for fix in problem.fixes)]
    for text in texts:
        assert not INTERNAL.search(text), f"{problem.code}: {text!r}"


async def _broken(ctx: Context) -> Outcome:
    return Outcome.failed("broken", problems.INTERNAL)


def _skipped_reasons(plan: Plan) -> list[str]:
    """Every check after the first is skipped when the first fails: the reasons the admin reads."""
    first = dataclasses.replace(plan.checks[0], run=_broken)
    run = Run(Plan((first, *plan.checks[1:])))

    async def go() -> list[str]:
        return [
            e.outcome.detail
            async for e in run.events()
            if isinstance(e, Finished) and e.outcome.status is Status.SKIPPED
        ]

    return asyncio.run(go())


def m365(credential: ClientSecretCredential | CertificateCredential) -> Connection:
    draft = M365Draft(
        tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        client_id="11111111-2222-3333-4444-555555555555",
        app_account="backup@contoso.com",
    )
    return draft.build(credential, Stamp("id-1", FROZEN_NOW))


@pytest.mark.parametrize("kind", ["m365", "onprem"])
def test_a_skipped_check_names_what_it_waits_on_by_title(kind: str) -> None:
    if kind == "m365":
        settings = m365(ClientSecretCredential(secret_ref="secret:a")).settings
        assert isinstance(settings, M365Settings)
        plan = online.plan(settings)
    else:
        plan = onprem.plan()
    reasons = _skipped_reasons(plan)
    assert reasons and all(reason.startswith("waits on ") for reason in reasons)
    assert not [reason for reason in reasons if INTERNAL.search(reason)]
    assert any(plan.checks[0].title in reason for reason in reasons)


def _paths(change: Change) -> list[str]:
    return [field.path for field in change.fields()]


def test_every_field_a_pending_change_can_show_has_a_human_label() -> None:
    secret = m365(ClientSecretCredential(secret_ref="secret:a"))
    certificate = m365(CertificateCredential(thumbprint="AB" * 20, sha256="CD" * 32))
    onprem_connection = OnPremDraft(
        admin_upn="admin@fabrikam.com", discovery="manual", server="exch01.fabrikam.com"
    ).build("secret:b", Stamp("id-2", FROZEN_NOW))
    settings = onprem_connection.settings
    assert isinstance(settings, OnPremSettings)
    pinned = dataclasses.replace(
        onprem_connection,
        settings=dataclasses.replace(
            settings, password_ref="secret:c", tls=TlsTrust(mode=TrustMode.PINNED, pin_sha256="EF" * 32)
        ),
    )
    paths = set()
    for change in (
        Change(ChangeKind.ADDED, None, secret),
        Change(ChangeKind.EDITED, secret, certificate),
        Change(ChangeKind.ADDED, None, onprem_connection),
        Change(ChangeKind.EDITED, onprem_connection, pinned),
    ):
        paths |= set(_paths(change))
    assert {"settings.credential.sha256", "settings.password_ref", "settings.tls.pin_sha256"} <= paths
    for path in paths:
        label = field_label(path)
        assert label and not INTERNAL.search(label) and "_" not in label, (path, label)
    assert field_label("settings.password_ref") == "Password"
    assert field_label("settings.credential.sha256") == "Certificate SHA-256"
