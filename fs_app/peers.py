"""Which addresses may talk to our listeners: FreeSWITCH's, given as IPs and CIDRs."""
from __future__ import annotations

import ipaddress
from typing import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_peers(peers: Iterable[str]) -> list[Network]:
    """IPs and CIDRs ("127.0.0.1", "10.0.0.0/8", "::1/128") -> networks."""
    return [ipaddress.ip_network(peer.strip(), strict=False) for peer in peers]


def peer_in(ip: str, networks: Iterable[Network]) -> bool:
    """Whether ``ip`` (an IPv4-mapped IPv6 address counts as its IPv4 address) is in a network."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
