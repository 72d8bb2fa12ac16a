"""The wizard's draft over arbitrary input: whatever is typed into any field, the rules answer with a message per
rejected field and never raise; a draft without messages builds; an edit builds back the connection it came from."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screens.wizard.draft import Context, Step, Trust, WizardDraft
from tests.conftest import FROZEN_NOW
from workbench.drafts import DraftInvalid
from workbench.model import ClientSecretCredential, ConnectionKind, M365Settings, OnPremSettings, Secret

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(
        [
            "",
            "contoso.com",
            "backup@contoso.com",
            "00000000-0000-0000-0000-000000000000",
            "https://graph.microsoft.com",
            "127.0.0.1:443",
            "[b]x[/b]",
            "\x1b[31m",
            "x" * 10_240,
            "mail.contoso.com",
            "10.0.0.1, 10.0.0.2",
        ]
    ),
)
CONTEXT = Context(now=FROZEN_NOW)


@st.composite
def drafts(draw: st.DrawFn) -> WizardDraft:
    draft = WizardDraft(id="draft", kind=draw(st.sampled_from(list(ConnectionKind))))
    for name in ("tenant_id", "client_id", "app_account", "authority_host", "graph_url", "ews_url", "ca_bundle"):
        setattr(draft.m365, name, draw(TEXT))
    draft.m365.cloud = draw(st.sampled_from(["global", "custom", "china", "nowhere"]))
    for name in ("admin_upn", "server", "ews_url", "ca_bundle", "pin_sha256"):
        setattr(draft.onprem, name, draw(TEXT))
    draft.onprem.discovery = draw(st.sampled_from(["autodiscover", "manual", "bogus"]))
    draft.use_certificate = draw(st.booleans())
    draft.thumbprint = draw(TEXT)
    draft.client_secret = draw(st.one_of(st.none(), TEXT.map(Secret)))
    draft.password = draw(st.one_of(st.none(), TEXT.map(Secret)))
    draft.trust = draw(st.sampled_from(list(Trust)))
    draft.dns_text = draw(TEXT)
    draft.name = draw(TEXT)
    return draft


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drafts())
def test_every_rejection_is_a_message_and_nothing_raises(draft: WizardDraft) -> None:
    found = draft.errors(CONTEXT)
    assert all(isinstance(message, str) and message.strip() for message in found.values())
    claimed: set[str] = set()
    for step in draft.steps():
        step_messages = draft.step_errors(step, CONTEXT)
        claimed |= step_messages.keys()
        assert draft.step_valid(step, CONTEXT) is (not step_messages)
    assert claimed == found.keys(), "a message no step shows"
    staged: list[Secret] = []

    def stage(secret: Secret) -> str:
        staged.append(secret)
        return f"ref-{len(staged)}"

    try:
        built = draft.build(CONTEXT, stage)
    except DraftInvalid as invalid:
        assert invalid.errors
    except ValueError as error:  # a thumbprint the certificate store rejects before the core draft runs
        assert draft.use_certificate and str(error)
    else:
        assert not (found.keys() - {"thumbprint", "client_secret", "password", "ca_bundle", "pin_sha256"}), found
        assert built.id == "draft"
        assert "Secret" not in repr(built) or "*" in repr(built)


def test_a_draft_builds_its_typed_secret_once_however_often_it_is_built() -> None:
    draft = WizardDraft(id="x", kind=ConnectionKind.ONPREM)
    draft.onprem.admin_upn = "admin@fabrikam.test"
    draft.password = Secret("canary-password")
    refs: list[str] = []

    def stage(secret: Secret) -> str:
        refs.append(f"ref-{len(refs)}")
        return refs[-1]

    first = draft.build(CONTEXT, stage)
    second = draft.build(CONTEXT, stage)
    assert first.settings == second.settings and refs == ["ref-0"]
    assert "canary" not in repr(draft) and "canary" not in repr(first)


def test_an_edit_builds_back_the_connection_it_came_from() -> None:
    from tests.ui import scenes

    m365, onprem = scenes.m365("Contoso"), scenes.onprem("Fabrikam", "mail.fabrikam.test")
    assert isinstance(m365.settings, M365Settings) and isinstance(onprem.settings, OnPremSettings)
    with_secrets = (
        replace(m365, settings=replace(m365.settings, credential=ClientSecretCredential(secret_ref="vault-1"))),
        replace(onprem, settings=replace(onprem.settings, password_ref="vault-2", dns_servers=("10.0.0.53",))),
    )
    for original in with_secrets:
        draft = WizardDraft.for_edit(original)
        assert all(draft.step_valid(step, CONTEXT) for step in draft.steps() if step is not Step.CONFIGURATION)
        rebuilt = draft.build(CONTEXT, lambda secret: "never")
        assert replace(rebuilt, updated=original.updated) == original
        assert draft.signature() == WizardDraft.for_edit(original).signature()
