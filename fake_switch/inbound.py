"""FreeSWITCH's inbound Event Socket (127.0.0.1:8021), faked for tests.

It speaks the wire of fs-transcripts/06-inbound-esl byte for byte: ``auth/request`` on connect,
``auth`` -> ``command/reply`` ``+OK accepted`` (a wrong password: ``-ERR invalid``, then the
inbound disconnect notice and close), ``event plain ...`` -> ``+OK event listener enabled
plain``, ``api ...`` -> ``api/response`` with Content-Length, ``exit`` -> ``+OK bye``, the inbound
disconnect notice and close.

The api commands it knows:

* ``sofia xmlstatus profile <name> reg``: the registrations added with :meth:`register`, in
  mod_sofia's exact format (``show_reg_callback_xml`` of 1.10: header line, ``<profile>``,
  ``  <registrations>``, one ``    <registration>`` block per row, contact and agent
  amp-encoded, ``exp(<local time>) expsecs(<seconds left>)``); ``Invalid Profile!`` for another
  profile;
* ``sofia profile <name> flush_inbound_reg <user@host>``: removes them (``+OK flushing all
  registrations matching specified call_id``, as mod_sofia words it for either argument);
* ``xml_flush_cache <key> <user> <domain>``: records the flush (tests look at ``flushed``);
* ``show channels as json`` and ``uuid_kill <uuid> [cause]`` on the channels added with
  :meth:`add_channel` (a call that is up, for the admin's live view): one row per channel in
  mod_commands' compact JSON (06: no spaces, no trailing newline; ``{"row_count": 0}\n`` with
  none), ``+OK\n`` for a live channel (it goes, ``killed`` records it with its cause) and
  ``-ERR No such channel!\n`` for a uuid that is not (or no longer) up;
* ``status`` and the other uuid_* commands, and uuid_kill of a uuid it does not hold: answered by
  the :class:`FakeFreeSwitch` given as ``fs`` (its live legs), else as FreeSWITCH with no channels.

``hold()`` makes it stop answering (accepts, then says nothing): an unresponsive switch.
"""
from __future__ import annotations

import json
import time
import uuid as uuid_module
from dataclasses import dataclass

import gevent
from gevent.event import Event
from gevent.server import StreamServer

from .wire import CommandParser, api_response, clock_us, command_reply, disconnect_notice

XML_HEADER = '<?xml version="1.0" encoding="ISO-8859-1"?>'


def amp_encode(text: str) -> str:
    """switch_amp_encode(): the five XML specials."""
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&apos;")
            .replace("<", "&lt;").replace(">", "&gt;"))


@dataclass
class FakeRegistration:
    user: str
    host: str
    contact: str
    agent: str
    expires_epoch: int
    network_ip: str = "127.0.0.1"
    network_port: str = "5062"
    call_id: str = ""
    status: str = "Registered(UDP)"
    rpid: str = "unknown"

    def xml(self, now_epoch: int) -> str:
        local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.expires_epoch))
        return (
            "    <registration>\n"
            f"        <call-id>{self.call_id}</call-id>\n"
            f"        <user>{self.user}@{self.host}</user>\n"
            f"        <contact>{amp_encode(self.contact)}</contact>\n"
            f"        <agent>{amp_encode(self.agent)}</agent>\n"
            f"        <status>{self.status}({self.rpid}) exp({local}) expsecs({self.expires_epoch - now_epoch})</status>\n"
            "        <ping-status>Reachable</ping-status>\n"
            "        <host>fs1</host>\n"
            f"        <network-ip>{self.network_ip}</network-ip>\n"
            f"        <network-port>{self.network_port}</network-port>\n"
            f"        <sip-auth-user>{self.user}</sip-auth-user>\n"
            f"        <sip-auth-realm>{self.host}</sip-auth-realm>\n"
            f"        <mwi-account>{self.user}@{self.host}</mwi-account>\n"
            "    </registration>\n")


class FakeInboundEventSocket:
    def __init__(self, password: str, *, fs=None, host: str = "127.0.0.1", port: int = 0, profile: str = "internal"):
        self.password = password
        self.fs = fs
        self.profile = profile
        self.registrations: list[FakeRegistration] = []
        self.flushed: list[tuple[str, str, str]] = []  # xml_flush_cache (key, user, domain)
        self.commands: list[str] = []  # every command line received, in order
        self.channels: dict[str, dict] = {}  # uuid -> its `show channels` row (add_channel)
        self.killed: list[tuple[str, str]] = []  # (uuid, cause) of each uuid_kill that ended a channel
        self._answering = Event()
        self._answering.set()
        self._server = StreamServer((host, port), self._serve)
        self._server.start()

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address[:2]

    def close(self) -> None:
        self._answering.set()
        self._server.stop(timeout=1)

    def hold(self) -> None:
        """Accept connections and commands but answer nothing until :meth:`release`."""
        self._answering.clear()

    def release(self) -> None:
        self._answering.set()

    def register(self, user: str, host: str, *, contact: str | None = None, agent: str = "fsapp-test-phone",
                 expires_in: int = 3600, network_ip: str = "127.0.0.1", network_port: str = "5062") -> None:
        now = clock_us() // 1_000_000
        contact = contact or f'"{user}" <sip:{user}@{network_ip}:{network_port}>'
        self.registrations.append(FakeRegistration(user, host, contact, agent, now + expires_in, network_ip,
                                                   network_port, call_id=str(uuid_module.uuid4())))

    def add_channel(self, uuid: str | None = None, *, cid_num: str = "1001", dest: str = "13800138000",
                    direction: str = "inbound", callstate: str = "ACTIVE") -> str:
        """A channel that is up (as `show channels` lists it, fields in 06's order); its uuid."""
        uuid = uuid or str(uuid_module.uuid4())
        epoch = clock_us() // 1_000_000
        self.channels[uuid] = {
            "uuid": uuid, "direction": direction,
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)), "created_epoch": str(epoch),
            "name": f"sofia/internal/{cid_num}@127.0.0.1:5062", "state": "CS_EXECUTE", "cid_name": cid_num,
            "cid_num": cid_num, "ip_addr": "127.0.0.1", "dest": dest, "application": "socket",
            "application_data": "127.0.0.1:8084 async full", "dialplan": "XML", "context": "default",
            "read_codec": "PCMU", "read_rate": "8000", "read_bit_rate": "64000", "write_codec": "PCMU",
            "write_rate": "8000", "write_bit_rate": "64000", "secure": "", "hostname": "fs1", "presence_id": "",
            "presence_data": "", "accountcode": "", "callstate": callstate, "callee_name": "", "callee_num": "",
            "callee_direction": "", "call_uuid": "", "sent_callee_name": "", "sent_callee_num": "",
            "initial_cid_name": cid_num, "initial_cid_num": cid_num, "initial_ip_addr": "127.0.0.1",
            "initial_dest": dest, "initial_dialplan": "XML", "initial_context": "default"}
        return uuid

    # ------------------------------------------------------------------ api
    def api(self, command: str) -> str:
        words = command.split()
        if words == ["show", "channels", "as", "json"] and (self.channels or self.fs is None):
            if not self.channels:
                return '{"row_count": 0}\n'  # fs-transcripts 06, surprise 6
            rows = list(self.channels.values())
            return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))
        if words[:1] == ["uuid_kill"] and len(words) >= 2 and words[1] in self.channels:
            del self.channels[words[1]]
            self.killed.append((words[1], words[2] if len(words) > 2 else "NORMAL_CLEARING"))
            return "+OK\n"
        if words[:2] == ["sofia", "xmlstatus"] and len(words) >= 5 and words[2] == "profile" and words[4] == "reg":
            if words[3] != self.profile:
                return "Invalid Profile!\n"
            now = clock_us() // 1_000_000
            rows = "".join(r.xml(now) for r in self.registrations)
            return f"{XML_HEADER}\n<profile>\n  <registrations>\n{rows}  </registrations>\n</profile>\n"
        if words[:2] == ["sofia", "profile"] and len(words) >= 4 and words[3] == "flush_inbound_reg":
            if words[2] != self.profile:
                return f"Invalid Profile [{words[2]}]"
            if len(words) > 4 and words[4] != "reboot":
                user, _, host = words[4].partition("@")
                self.registrations = [r for r in self.registrations
                                      if not (r.user == user and (not host or r.host == host))]
                return "+OK flushing all registrations matching specified call_id\n"
            self.registrations = []
            return "+OK flushing all registrations\n"
        if words[:1] == ["xml_flush_cache"]:
            if len(words) == 4:
                self.flushed.append((words[1], words[2], words[3]))
            return "+OK\n"
        if self.fs is not None:
            return self.fs.api(command)
        if words[:1] == ["status"]:
            return "UP 0 years, 0 days\nFreeSWITCH (Version 1.10.12 fake) is ready\n"
        if words and words[0].startswith("uuid_"):
            return "-ERR No such channel!\n"  # no live channels without a FakeFreeSwitch (06)
        return f"-ERR {words[0] if words else ''} Command not found!\n"

    # ------------------------------------------------------------------ connection
    def _serve(self, sock, address) -> None:
        parser = CommandParser()
        try:
            sock.sendall(b"Content-Type: auth/request\n\n")
            authenticated = False
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                for line, _headers, _body, _raw in parser.feed(data):
                    self.commands.append(line)
                    self._answering.wait()
                    word, _, rest = line.partition(" ")
                    if not authenticated:
                        if word == "auth" and rest == self.password:
                            authenticated = True
                            sock.sendall(command_reply("+OK accepted"))
                            continue
                        sock.sendall(command_reply("-ERR invalid"))
                        sock.sendall(disconnect_notice(None))
                        return
                    if word == "api":
                        sock.sendall(api_response(self.api(rest)))
                    elif word == "sendmsg":  # inbound sendmsg to a channel that is not there (06)
                        sock.sendall(command_reply(f"-ERR invalid session id [{rest}]"))
                    elif word == "event":
                        sock.sendall(command_reply("+OK event listener enabled plain"))
                    elif word == "exit":
                        sock.sendall(command_reply("+OK bye"))
                        sock.sendall(disconnect_notice(None))
                        return
                    else:
                        sock.sendall(command_reply("-ERR command not found"))
        except OSError:
            return
        finally:
            gevent.spawn(sock.close)
