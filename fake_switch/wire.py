"""Event Socket frames exactly as FreeSWITCH 1.10 writes them (see fs-transcripts/README.md)."""

from __future__ import annotations

import re
import time

from domain.clock import EPOCH, utcnow

# switch_url_encode(): these characters, control characters and non-ASCII bytes are encoded;
# "/ , ( ) ' - . _" and the rest of ASCII are not (fs-transcripts "URL-encoding").
_UNSAFE = set("\r\n \"#%&+:;<=>?@[\\]^`{|}")
_ENCODE_TABLE = {}
for _code in range(256):
    _ch = chr(_code)
    if _ch in _UNSAFE or _code < 0x20 or _code >= 0x7f:
        _ENCODE_TABLE[_code] = "%%%02X" % _code
    else:
        _ENCODE_TABLE[_code] = _ch
_NEEDS_ENCODING = re.compile("[%s]" % re.escape("".join(
    _ch for _ch in map(chr, range(128)) if _ENCODE_TABLE[ord(_ch)] != _ch)))

DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def url_encode(value: str) -> str:
    """FreeSWITCH's url encoding of an event header value."""
    if value.isascii() and _NEEDS_ENCODING.search(value) is None:
        return value
    return "".join(_ENCODE_TABLE[b] for b in value.encode("utf-8"))


def command_reply(reply_text: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    lines = ["Content-Type: command/reply", "Reply-Text: " + reply_text]
    if extra:
        lines.extend(f"{k}: {v}" for k, v in extra)
    return ("\n".join(lines) + "\n\n").encode()


def api_response(body: str) -> bytes:
    data = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def event_plain(headers: list[tuple[str, str]] | str, body: str | None = None) -> bytes:
    """``Content-Length`` first, then ``Content-Type: text/event-plain`` (as on the wire).

    ``headers`` is a list of (name, decoded value) or an already-encoded header block
    ending with a newline.
    """
    if isinstance(headers, str):
        block = headers
    else:
        block = "".join(f"{name}: {url_encode(value)}\n" for name, value in headers)
    if body is not None:
        inner_body = body.encode()
        inner = (block + "Content-Length: %d\n\n" % len(inner_body)).encode() + inner_body
    else:
        inner = (block + "\n").encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner


def linger_notice(uuid: str, channel_name: str, linger_time: int) -> bytes:
    return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
            f"Content-Disposition: linger\nChannel-Name: {channel_name}\nLinger-Time: {linger_time}\n"
            f"Content-Length: 0\n\n").encode()


def disconnect_notice(uuid: str | None) -> bytes:
    body = DISCONNECT_BODY.encode()
    if uuid is None:  # inbound connections
        return b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(body) + body
    return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
            f"Content-Disposition: disconnect\nContent-Length: {len(body)}\n\n").encode() + body


def clock_us() -> int:
    """Now, in microseconds since the Unix epoch, from the process's one clock (domain.clock): every
    wall-clock value the fake puts on the wire (Event-Date-*, Caller-Channel-*-Time, *_uepoch)
    comes from here, so it agrees with the app's utcnow() under a pinned test clock."""
    delta = utcnow() - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def event_date_headers(now: float | None = None) -> list[tuple[str, str]]:
    now = clock_us() / 1_000_000 if now is None else now
    local = time.localtime(now)
    gmt = time.gmtime(now)
    return [
        ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", local)),
        ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", gmt)),
        ("Event-Date-Timestamp", str(int(now * 1_000_000))),
    ]


class CommandParser:
    """Splits what the app writes into commands: a block of lines ending with a blank line
    (plus ``Content-Length`` bytes of body when given)."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, dict[str, str], bytes, bytes]]:
        """Returns (command line, headers, body, raw frame) for each complete command."""
        self._buf += data
        out = []
        pos = 0
        buf = self._buf
        while True:
            end = buf.find(b"\n\n", pos)
            if end < 0:
                break
            block = buf[pos:end].decode("utf-8", "replace")
            lines = block.split("\n")
            # tolerate stray leading newlines between commands
            while lines and not lines[0]:
                lines.pop(0)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(": ")
                headers[name] = value
            body = b""
            frame_end = end + 2
            if "Content-Length" in headers:
                try:
                    n = int(headers["Content-Length"])
                except ValueError:
                    n = 0
                if len(buf) - frame_end < n:
                    break
                body = bytes(buf[frame_end:frame_end + n])
                frame_end += n
            raw = bytes(buf[pos:frame_end])
            pos = frame_end
            if lines:
                out.append((lines[0], headers, body, raw))
        if pos:
            del buf[:pos]
        return out
