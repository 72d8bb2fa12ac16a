"""A string that refuses to show itself.

Secrets (client secrets, admin passwords, private keys) travel through the program wrapped in `Secret`, so a
repr in a traceback (Textual prints locals on a crash), a log line or an f-string shows a mask instead of the value.
The value is unwrapped with `reveal()` only inside the call that needs it.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

MASK = "********"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # equal secrets must not leak through hashing either

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")
