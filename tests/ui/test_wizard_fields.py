"""The table of the wizard's text fields (`screens/wizard/fields.py` `TEXT_FIELDS`) agrees with the draft, the
rules and the steps: each entry edits an attribute the draft has (written and read back), its message is one its
step shows, its ids are unique on the screen (the wizard finds a field by `#id`), and exactly one step composes it,
once."""

from __future__ import annotations

import ast
from collections import Counter
from operator import attrgetter
from pathlib import Path

import screens.wizard
from screens.wizard.draft import STEP_FIELDS, Step, WizardDraft
from screens.wizard.fields import TEXT_FIELDS, text_field
from workbench.model import ConnectionKind, Registration, Secret

SPECS = [(step, spec) for step, specs in TEXT_FIELDS.items() for spec in specs]


def test_every_entry_edits_an_attribute_the_draft_has() -> None:
    for step, spec in SPECS:
        draft = WizardDraft(id="x")
        before = attrgetter(spec.attribute)(draft)  # AttributeError: the table names what the draft lacks
        if spec.kind == "password":
            assert before is None, spec.id
            spec.write(draft, "typed")
            assert attrgetter(spec.attribute)(draft) == Secret("typed"), spec.id
            spec.write(draft, "")
            assert attrgetter(spec.attribute)(draft) is None, spec.id
        else:
            assert isinstance(before, str), (step, spec.id)
            spec.write(draft, "typed")
            assert attrgetter(spec.attribute)(draft) == "typed", spec.id


def test_every_entry_s_message_is_one_its_step_shows() -> None:
    manual = WizardDraft(id="x")
    manual.m365.registration = Registration.MANUAL.value
    automatic = WizardDraft(id="x")
    onprem = WizardDraft(id="x", kind=ConnectionKind.ONPREM)
    for step, spec in SPECS:
        shown = [d.step_fields()[step] for d in (manual, automatic, onprem) if step in d.steps()]
        assert shown, (step, spec.id)  # a step no kind of connection goes through
        assert any(spec.field in fields for fields in shown), (step, spec.id, spec.field)
        assert spec.field in STEP_FIELDS[step] or step is Step.REGISTRATION, (step, spec.field)


def test_ids_are_unique_on_the_screen() -> None:
    inputs = Counter(spec.id for _, spec in SPECS)
    assert [i for i, n in inputs.items() if n > 1] == []
    boxes = Counter(spec.box or f"field-{spec.field}" for _, spec in SPECS)
    assert [b for b, n in boxes.items() if n > 1] == []
    assert not set(inputs) & set(boxes)
    for step, spec in SPECS:
        assert text_field(step, spec.id) is spec


def composed() -> dict[Step, Counter[str]]:
    """The ids each step class composes with `self.text_field("…")`, read from the wizard's modules."""
    found: dict[Step, Counter[str]] = {}
    for path in sorted(Path(screens.wizard.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            step = next(
                (
                    Step[item.value.attr]
                    for item in node.body
                    if isinstance(item, ast.Assign)
                    and [t.id for t in item.targets if isinstance(t, ast.Name)] == ["STEP"]
                    and isinstance(item.value, ast.Attribute)
                ),
                None,
            )
            calls = [
                call.args[0].value
                for call in ast.walk(node)
                if isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "text_field"
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ]
            if calls:
                assert step is not None, f"{path.name}: {node.name} composes text fields but names no STEP"
                assert step not in found, f"two classes compose the {step} step"
                found[step] = Counter(calls)
    return found


def test_every_entry_is_composed_by_exactly_one_step_once() -> None:
    by_step = composed()
    assert set(by_step) == set(TEXT_FIELDS)
    for step, specs in TEXT_FIELDS.items():
        assert by_step[step] == Counter(spec.id for spec in specs), step
