"""Name resolution for on-premises servers: through the connection's own DNS servers when it has some (as
autodiscover does, with dnspython), otherwise through the system resolver (which honours /etc/hosts)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


class NotFound(Exception):
    pass


def _resolver(servers: tuple[str, ...], timeout: float) -> object:
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = []
        ports = {}
        for server in servers:
            host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            resolver.nameservers.append(host)
            ports[host] = int(port) if port else 53
        resolver.nameserver_ports = ports
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def address_of(name: str, servers: tuple[str, ...] = (), timeout: float = 5.0) -> str:
    """An IPv4 address for `name` (an IP literal is returned as it is)."""
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        pass
    if not servers:
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise NotFound(f"{name}: {error.strerror}") from None
        return str(infos[0][4][0])
    import dns.exception
    import dns.resolver

    try:
        answer = _resolver(servers, timeout).resolve(f"{name}.", "A")  # type: ignore[attr-defined]
    except dns.resolver.NXDOMAIN:
        raise NotFound(f"{name}: no such name (NXDOMAIN)") from None
    except dns.resolver.NoAnswer:
        raise NotFound(f"{name}: no A record") from None
    except dns.exception.DNSException as error:
        raise NotFound(f"{name}: {type(error).__name__}") from None
    return str(answer[0])


def srv_records(name: str, servers: tuple[str, ...] = (), timeout: float = 5.0) -> list[SrvRecord]:
    """SRV records in the order RFC 2782 prescribes (lowest priority first, then heaviest weight)."""
    import dns.exception
    import dns.resolver

    try:
        answer = _resolver(servers, timeout).resolve(f"{name}.", "SRV")  # type: ignore[attr-defined]
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as error:
        raise NotFound(f"{name}: {type(error).__name__}") from None
    records = [SrvRecord(r.priority, r.weight, r.port, r.target.to_text().rstrip(".")) for r in answer]
    return sorted(records, key=lambda r: (r.priority, -r.weight))
