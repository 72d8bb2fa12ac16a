"""`customKeyIdentifier` as a server sends it (Edm.Binary: base64 in JSON), decoded without trusting it."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.registration.plan import key_label, key_thumbprint

THUMBPRINT = "6D64DBAC5D0740E5A2610491343A9B2149A1997F"


def test_the_thumbprints_twenty_bytes_in_base64() -> None:
    assert key_thumbprint(base64.b64encode(bytes.fromhex(THUMBPRINT)).decode()) == THUMBPRINT


def test_a_key_uploaded_with_hex_text_reads_back_as_that_text() -> None:
    assert key_thumbprint(THUMBPRINT.lower()) == THUMBPRINT


@pytest.mark.parametrize(
    "value",
    [None, "", 42, ["x"], {"a": 1}, "not base64!", base64.b64encode(b"rotation-2027").decode(), "A" * 5000, "\x1b[2J"],
)
def test_anything_else_names_no_certificate(value: object) -> None:
    assert key_thumbprint(value) is None


def test_an_unmatched_key_is_named_by_its_id_with_control_characters_visible() -> None:
    label = key_label({"keyId": "k\x1b[31m1", "customKeyIdentifier": "bad!"})
    assert "\x1b" not in label and label.endswith("(no certificate thumbprint)")


@given(st.one_of(st.text(max_size=200), st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())))
def test_never_raises(value: str) -> None:
    result = key_thumbprint(value)
    assert result is None or (len(result) == 40 and result == result.upper())
