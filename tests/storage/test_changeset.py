"""Changesets: what the connection manager's OK and Cancel do."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from storage import ChangeKind, CommitInProgressError, ConflictError, Home, NameTakenError, NotFoundError
from tests.factories import m365, onprem
from workbench.model import ClientSecretCredential, M365Settings, OnPremSettings, Secret


def test_staged_changes_are_invisible_until_commit(home: Home) -> None:
    changes = home.changeset()
    changes.add(m365(1))
    assert [c.name for c in changes.connections()] == ["contoso.com"]
    assert home.store.snapshot().connections == ()
    assert changes.pending(m365(1).id) is ChangeKind.ADDED
    result = changes.commit()
    assert (result.added, result.edited, result.deleted) == (1, 0, 0)
    assert [c.id for c in home.store.snapshot().connections] == [m365(1).id]


def test_discard_leaves_no_trace(home: Home) -> None:
    changes = home.changeset()
    ref = changes.stage_secret(Secret("discarded-secret-value"))
    changes.add(m365(1, secret_ref=ref))
    changes.discard()
    assert not changes.dirty
    assert changes.commit().added == 0
    assert sorted(p.name for p in home.path.iterdir()) == []  # not even a vault or lock file


def test_commit_of_several_changes_is_one_write(home: Home) -> None:
    seed = home.changeset()
    seed.add(m365(1))
    seed.add(onprem(2))
    seed.commit()
    changes = home.changeset()
    changes.delete(m365(1).id)
    changes.edit(replace(onprem(2), name="Head office"))
    changes.add(onprem(3))
    inode_writes = []
    real = home.store.transaction

    def counting():  # every commit goes through exactly one transaction
        inode_writes.append(1)
        return real()

    home.store.transaction = counting  # type: ignore[method-assign]
    result = changes.commit()
    assert len(inode_writes) == 1
    assert (result.added, result.edited, result.deleted) == (1, 1, 1)
    assert [c.name for c in home.store.snapshot().connections] == ["admin3@contoso.com", "Head office"]


def test_diff_lists_changed_fields_without_values_of_refs(home: Home) -> None:
    seed = home.changeset()
    seed.add(onprem(1, password_ref="secret:old"))
    seed.commit()
    changes = home.changeset()
    ref = changes.stage_secret(Secret("new-password"))
    current = changes.get("admin1@contoso.com")
    assert isinstance(current.settings, OnPremSettings)
    changes.edit(replace(current, name="HQ", settings=replace(current.settings, password_ref=ref)))
    (change,) = changes.changes()
    assert change.kind is ChangeKind.EDITED
    assert {(f.path, f.before, f.after) for f in change.fields()} == {
        ("name", "admin1@contoso.com", "HQ"),
        ("settings.password_ref", "(set)", "(new value)"),
    }


def test_names_are_unique_ignoring_case(home: Home) -> None:
    changes = home.changeset()
    changes.add(m365(1, name="Contoso"))
    with pytest.raises(NameTakenError, match="'CONTOSO' already exists"):
        changes.add(m365(2, name="CONTOSO "))


def test_unknown_ids(home: Home) -> None:
    changes = home.changeset()
    with pytest.raises(NotFoundError):
        changes.delete("nope")
    with pytest.raises(NotFoundError):
        changes.edit(m365(9))


def test_add_then_delete_before_commit_is_nothing(home: Home) -> None:
    changes = home.changeset()
    changes.add(m365(1))
    changes.delete(m365(1).id)
    assert not changes.dirty


def test_concurrent_edit_is_a_conflict_not_a_lost_update(home: Home) -> None:
    seed = home.changeset()
    seed.add(onprem(1))
    seed.commit()
    first, second = home.changeset(), home.changeset()
    first.edit(replace(onprem(1), name="Edited by first"))
    second.edit(replace(onprem(1), name="Edited by second"))
    first.commit()
    with pytest.raises(ConflictError, match="changed by another workbench session"):
        second.commit()
    assert [c.name for c in home.store.snapshot().connections] == ["Edited by first"]


def test_concurrent_same_name_is_refused(home: Home) -> None:
    first, second = home.changeset(), home.changeset()
    first.add(m365(1, name="Fabrikam"))
    second.add(onprem(2, name="fabrikam"))
    first.commit()
    with pytest.raises(NameTakenError):
        second.commit()


def test_secrets_follow_their_connections(home: Home) -> None:
    changes = home.changeset()
    ref = changes.stage_secret(Secret("first-secret-value"))
    changes.add(m365(1, secret_ref=ref))
    changes.commit()
    vault = home.vault()
    assert vault.get(ref) == Secret("first-secret-value")

    changes = home.changeset()
    new_ref = changes.stage_secret(Secret("rotated-secret-value"))
    current = changes.get("contoso.com")
    assert isinstance(current.settings, M365Settings)
    credential = ClientSecretCredential(secret_ref=new_ref)
    changes.edit(replace(current, settings=replace(current.settings, credential=credential)))
    changes.commit()
    assert vault.get(ref) is None  # the replaced secret is gone
    assert vault.get(new_ref) == Secret("rotated-secret-value")

    changes = home.changeset()
    changes.delete(current.id)
    changes.commit()
    assert vault.refs() == set()


def test_failed_commit_removes_the_secrets_it_wrote(home: Home) -> None:
    seed = home.changeset()
    seed.add(m365(1, name="Taken"))
    seed.commit()
    changes = home.changeset()
    ref = changes.stage_secret(Secret("orphan-candidate"))
    changes.add(onprem(2, password_ref=ref))
    other = home.changeset()  # meanwhile someone takes the name we are about to rename to
    other.add(onprem(3, name="admin2@contoso.com"))
    other.commit()
    with pytest.raises(NameTakenError):
        changes.commit()
    assert ref not in home.vault().refs()


def test_undelete_brings_back_the_pending_edit_and_revert_drops_one_change(home: Home) -> None:
    first, second = m365(1, name="One"), onprem(2, name="Two")
    seed = home.changeset()
    seed.add(first)
    seed.add(second)
    seed.commit()
    changes = home.changeset()
    renamed = replace(first, name="One (renamed)")
    changes.edit(renamed)
    changes.delete(first.id)
    changes.undelete(first.id)
    assert changes.get(first.id).name == "One (renamed)" and changes.pending(first.id) is ChangeKind.EDITED
    changes.delete(second.id)
    changes.revert(first.id)  # only this one: the deletion of Two stays pending
    assert changes.pending(first.id) is None and changes.get("One").id == first.id
    assert [c.kind for c in changes.changes()] == [ChangeKind.DELETED]
    with pytest.raises(NotFoundError):
        changes.undelete(first.id)


def test_outside_changes_name_what_another_session_saved(home: Home) -> None:
    seed = home.changeset()
    seed.add(m365(1, name="One"))
    seed.commit()
    mine = home.changeset()
    other = home.changeset()
    other.edit(replace(other.get("One"), name="One (elsewhere)"))
    other.add(onprem(2, name="Two"))
    other.commit()
    found = {c.connection.name: c for c in mine.outside_changes()}
    assert found["One (elsewhere)"].kind is ChangeKind.EDITED
    assert [f.path for f in found["One (elsewhere)"].fields()] == ["name"]
    assert found["Two"].kind is ChangeKind.ADDED


def _hold_store_lock(home: Home) -> Callable[[], None]:
    """Hold the store's lock the way another workbench process does while it saves; returns the release."""
    import fcntl
    import os

    home.store.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(home.store.path.with_name(home.store.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return lambda: os.close(fd)


def test_a_commit_in_flight_freezes_the_changeset(home: Home) -> None:
    """What is saved is exactly what was pending when OK was pressed: while the commit waits for the store,
    every change (another delete, an undelete, Cancel, a second OK) is refused, never silently dropped."""
    seed = home.changeset()
    for n in (1, 2, 3):
        seed.add(onprem(n))
    seed.commit()
    changes = home.changeset()
    changes.delete(onprem(1).id)
    release = _hold_store_lock(home)
    saving = threading.Thread(target=changes.commit)
    saving.start()

    def committing() -> bool:
        return changes.committing

    try:
        for _ in range(200):
            if committing():
                break
            time.sleep(0.01)
        assert committing()
        with pytest.raises(CommitInProgressError):
            changes.delete(onprem(2).id)
        with pytest.raises(CommitInProgressError):
            changes.undelete(onprem(1).id)
        with pytest.raises(CommitInProgressError):
            changes.stage_secret(Secret("typed-while-saving"))
        with pytest.raises(CommitInProgressError):
            changes.discard()
        with pytest.raises(CommitInProgressError):
            changes.commit()
        assert changes.pending(onprem(1).id) is ChangeKind.DELETED  # what the table shows while it saves
    finally:
        release()
        saving.join(timeout=30)
    assert not committing() and not changes.dirty
    assert sorted(c.id for c in home.store.snapshot().connections) == sorted([onprem(2).id, onprem(3).id])
    changes.delete(onprem(2).id)  # editable again once the commit has ended
    assert changes.dirty
