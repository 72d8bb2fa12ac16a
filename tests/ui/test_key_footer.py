"""The key bar is rebuilt when the keys it shows change, and only then: typing in a field or moving from one field
to the next leaves it as it was (Textual's own footer rebuilds every key on each of those)."""

from __future__ import annotations

from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

from tests.ui import scenes
from tests.ui.conftest import until
from tests.ui.test_wizard_snapshots import credentials_filled, directory


def shown(footer: Footer) -> list[str]:
    return [key.description for key in footer.query(FooterKey)]


async def test_typing_and_moving_between_fields_keep_the_key_bar_and_a_new_step_s_keys_rebuild_it() -> None:
    app = scenes.app(scenes.fresh_home(), browser=directory, new_id=lambda: "id-new", hold=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await credentials_filled(pilot)
        await scenes.settle(pilot)
        footer = app.screen.query_one(Footer)
        before = shown(footer)
        rebuilds: list[list[str]] = []
        rebuild = footer.recompose

        async def counted() -> None:
            await rebuild()
            rebuilds.append(shown(footer))

        footer.recompose = counted  # type: ignore[method-assign]
        for field in ("#admin_upn", "#password", "#admin_upn"):  # from one text field to the next, typing
            app.screen.query_one(field, Input).focus()
            await pilot.press("end", "x", "backspace")
        await scenes.settle(pilot)
        assert rebuilds == []
        assert shown(footer) == before

        await pilot.press("alt+n")  # the Configuration step: its checks can be re-run
        await until(pilot, lambda: "Re-run" in shown(footer))
        assert rebuilds and "Re-run" not in before
