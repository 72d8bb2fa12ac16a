"""The wizard's draft logic that used to live in the screen, as plain functions of the draft: the admin's UPN
proposed from the server's domain, the automatic registration's request and the key that restarts its sign-in,
a build under a stand-in name that leaves the name field as typed, whether an edit changed anything, and what
Finish's status line says."""

from __future__ import annotations

import dataclasses
from typing import Any

from screens.wizard.draft import STAND_IN_NAME, Context, WizardDraft
from tests.conftest import FROZEN_NOW
from workbench.checks.events import Status, Summary
from workbench.model import Cloud, ConnectionKind, Secret, VerificationStatus

CONTEXT = Context(now=FROZEN_NOW)


def onprem(server: str, upn: str = "") -> WizardDraft:
    draft = WizardDraft(id="x", kind=ConnectionKind.ONPREM)
    draft.onprem.discovery, draft.onprem.server, draft.onprem.admin_upn = "manual", server, upn
    return draft


def test_the_upn_is_proposed_from_the_local_user_and_the_servers_domain() -> None:
    draft = onprem("mail.contoso.com")
    draft.propose_upn("alice")
    assert draft.onprem.admin_upn == "alice@contoso.com"


def test_no_upn_is_proposed_without_a_domain_a_user_or_over_what_was_typed() -> None:
    for server in ("192.0.2.10", "contoso.com", "mail", "not a server"):
        draft = onprem(server)
        draft.propose_upn("alice")
        assert draft.onprem.admin_upn == "", server
    draft = onprem("mail.contoso.com")
    draft.propose_upn("")
    assert draft.onprem.admin_upn == ""
    draft = onprem("mail.contoso.com", "bob@fabrikam.com")
    draft.propose_upn("alice")
    assert draft.onprem.admin_upn == "bob@fabrikam.com"


def test_an_edit_keeps_its_admin_and_gets_no_proposal() -> None:
    from tests.ui import scenes

    draft = WizardDraft.for_edit(scenes.onprem("Fabrikam", "mail.fabrikam.test"))
    draft.onprem.admin_upn = ""
    draft.propose_upn("alice")
    assert draft.onprem.admin_upn == ""


def test_the_registration_request_needs_a_valid_account_and_endpoints() -> None:
    draft = WizardDraft(id="x")
    assert draft.registration_request() is None and draft.registration_key() == ("invalid",)
    draft.m365.app_account = "backup@contoso.com"
    request = draft.registration_request()
    assert request is not None and request.app_account == "backup@contoso.com" and request.cloud is Cloud.GLOBAL
    assert request.custom_endpoints is None and request.tenant_id is None and request.public_client_id is None
    draft.m365.cloud = Cloud.CUSTOM.value
    assert draft.registration_request() is None  # a custom cloud without its endpoints
    draft.m365.authority_host = "https://127.0.0.1:8443"
    draft.m365.graph_url = "https://127.0.0.1:8444"
    draft.m365.ews_url = "https://127.0.0.1:8445/EWS/Exchange.asmx"
    request = draft.registration_request()
    assert request is not None and request.custom_endpoints is not None
    assert request.custom_endpoints.graph_url == "https://127.0.0.1:8444"


def test_the_sign_in_key_follows_what_the_sign_in_is_for_and_not_the_name() -> None:
    draft = WizardDraft(id="x")
    draft.m365.app_account = "backup@contoso.com"
    key = draft.registration_key()
    draft.name = "Contoso"
    assert draft.registration_key() == key
    draft.m365.tenant_id = "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
    assert draft.registration_key() != key
    key = draft.registration_key()
    draft.reregister = True
    assert draft.registration_key() != key


def test_a_stand_in_name_builds_without_touching_the_name_field() -> None:
    draft = onprem("mail.contoso.com", "admin@contoso.com")
    draft.password = Secret("pw")
    draft.name, draft.name_follows_default = "\x00bad", False
    assert draft.verification_name(CONTEXT) == STAND_IN_NAME
    built = draft.build(CONTEXT, lambda secret: "ref", name="browse")
    assert built.name == "browse" and draft.name == "\x00bad"
    draft.name, draft.name_follows_default = "", True
    assert draft.shown_name(CONTEXT) == "admin@contoso.com" == draft.verification_name(CONTEXT)
    assert draft.build(CONTEXT, lambda secret: "ref").name == "admin@contoso.com"


def test_an_edit_that_changed_nothing_is_unchanged_whatever_its_verification() -> None:
    from tests.ui import scenes

    draft = WizardDraft.for_edit(scenes.onprem("Fabrikam", "mail.fabrikam.test"))
    built = draft.build(CONTEXT, lambda secret: "ref")
    assert draft.unchanged(built)
    assert draft.editing is not None and built.updated == draft.editing.updated
    verified = dataclasses.replace(built, last_verification=scenes.summary(VerificationStatus.PASSED, 5, 9))
    assert draft.unchanged(verified)  # a verification alone is nothing to save


def test_an_edit_with_one_field_changed_or_a_secret_typed_is_not_unchanged() -> None:
    from tests.ui import scenes

    stored = scenes.onprem("Fabrikam", "mail.fabrikam.test")
    draft = WizardDraft.for_edit(stored)
    draft.onprem.admin_upn = "other@fabrikam.com"
    assert not draft.unchanged(draft.build(CONTEXT, lambda secret: "ref"))
    draft = WizardDraft.for_edit(stored)
    draft.password = Secret("typed")  # the same fields, but a password typed: a new secret to save
    assert not draft.unchanged(draft.build(CONTEXT, lambda secret: "ref-typed"))
    new = onprem("mail.fabrikam.test", "administrator@fabrikam.com")
    assert not new.unchanged(stored)  # a new connection is never "unchanged"


def finish(draft: WizardDraft, **run: Any) -> tuple[bool, str]:
    state: dict[str, Any] = {"started": True, "running": False, "summary": None, "failed": 0} | run
    return draft.finish_state(CONTEXT, **state)


def ended(status: Status) -> Summary:
    return Summary(status=status, counts={status: 1}, duration_ms=10)


def test_finish_waits_for_a_verification_that_ended_without_a_failure() -> None:
    draft = onprem("mail.contoso.com", "admin@contoso.com")
    assert finish(draft, started=False) == (False, "Not verified yet.")
    assert finish(draft, running=True, summary=ended(Status.PASSED))[0] is False
    assert "Verifying" in finish(draft)[1]  # started, no summary yet
    assert finish(draft, summary=ended(Status.CANCELLED)) == (False, "Cancelled. R verifies again.")
    ready, note = finish(draft, summary=ended(Status.FAILED), failed=2)
    assert not ready and note.startswith("2 check(s) failed")
    assert finish(draft, summary=ended(Status.PASSED)) == (True, "Verified. Finish, then OK in the manager, saves it.")
    assert finish(draft, summary=ended(Status.WARNING))[1].startswith("Verified (with warnings).")


def test_finish_asks_for_another_name_when_the_name_is_not_valid_or_taken() -> None:
    draft = onprem("mail.contoso.com", "admin@contoso.com")
    draft.name, draft.name_follows_default = "\x00bad", False
    assert finish(draft, summary=ended(Status.PASSED)) == (False, "Choose another name (see above).")
    draft.name = "Fabrikam"
    taken = Context(now=FROZEN_NOW, name_taken=lambda name: name == "Fabrikam")
    state: dict[str, Any] = {"started": True, "running": False, "summary": ended(Status.PASSED), "failed": 0}
    assert draft.finish_state(taken, **state)[0] is False
    assert draft.finish_state(CONTEXT, **state)[0] is True
