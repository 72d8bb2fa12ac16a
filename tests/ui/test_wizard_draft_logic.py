"""The wizard's draft logic that used to live in the screen, as plain functions of the draft: the admin's UPN
proposed from the server's domain, the automatic registration's request and the key that restarts its sign-in,
and a build under a stand-in name that leaves the name field as typed."""

from __future__ import annotations

from screens.wizard.draft import STAND_IN_NAME, Context, WizardDraft
from tests.conftest import FROZEN_NOW
from workbench.model import Cloud, ConnectionKind, Secret

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
