"""Obtain a Kerberos ticket from a password, in a process of its own (run by `workbench.net.kerberos`).

MIT Kerberos reads its profile (the realm's KDCs) once per process from `KRB5_CONFIG`, so a long-running workbench
that verifies two organisations cannot point one process at two KDCs for one realm name. Each ticket request
therefore runs here, in a short-lived interpreter whose environment names the run's own profile. It reads one JSON
line (`principal`, `spn`) and then the password from standard input, asks the KDC for a ticket-granting ticket
(pre-authenticated, not forwardable) and for a service ticket for `spn`, both in a MEMORY cache that dies with the
process, and prints one JSON line: the two credentials serialised (`creds`), or `error` (the krb5 or GSS minor code)
and `message`. Nothing is written to disk.

This file imports nothing from the workbench: it is started with `python -I`.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any


def _fail(code: int, message: str) -> int:
    print(json.dumps({"error": int(code), "message": message}))
    return 0


def main() -> int:
    import gssapi
    import krb5
    from gssapi.raw.misc import GSSError

    request: dict[str, Any] = json.loads(sys.stdin.readline())
    password = sys.stdin.readline().rstrip("\n").encode("utf-8")
    context = krb5.init_context()
    principal = krb5.parse_name_flags(context, str(request["principal"]).encode("utf-8"))
    options = krb5.get_init_creds_opt_alloc(context)
    krb5.get_init_creds_opt_set_forwardable(options, False)  # the server is never given a TGT to forward
    try:
        tgt = krb5.get_init_creds_password(context, principal, options, password)
    except krb5.Krb5Error as error:
        return _fail(error.err_code, str(error))
    cache = krb5.cc_new_unique(context, b"MEMORY")
    krb5.cc_initialize(context, cache, principal)
    krb5.cc_store_cred(context, cache, tgt)
    name = b"MEMORY:" + (cache.name or b"")
    try:
        credentials = gssapi.Credentials(usage="initiate", store={b"ccache": name})
        target = gssapi.Name(str(request["spn"]), gssapi.NameType.kerberos_principal)
        # The first step asks the KDC for the service ticket and stores it in the cache; its token is not used.
        gssapi.SecurityContext(name=target, creds=credentials, usage="initiate", mech=gssapi.MechType.kerberos).step()
    except GSSError as error:
        return _fail(error.min_code, str(error))
    tickets = [base64.b64encode(krb5.marshal_credentials(context, creds)).decode("ascii") for creds in cache]
    krb5.cc_destroy(context, cache)
    print(json.dumps({"creds": tickets}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
