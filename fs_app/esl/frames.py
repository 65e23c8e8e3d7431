"""Event Socket frames: cutting a byte stream into frames, header blocks read on demand,
events with lazily url-decoded values, and the command frames the app writes."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Mapping
from urllib.parse import unquote

from .errors import ProtocolError

#: A header block (or connect reply) larger than this without a blank line is garbage.
MAX_HEADER_BLOCK_BYTES = 512 * 1024
#: A Content-Length larger than this is garbage (FreeSWITCH events are a few KiB).
MAX_BODY_BYTES = 16 * 1024 * 1024

READ_SIZE = 65536


def decode(value: str) -> str:
    return unquote(value) if "%" in value else value


def parse_header_lines(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):  # "Name:" with an empty value
                headers[line[:-1]] = ""
                continue
            raise ProtocolError(f"header line without ': ' separator: {line[:80]!r}")
        headers[name] = value
    return headers


def subscription(event_names: Iterable[str]) -> str:
    return "event plain " + " ".join(event_names)


def command_frames(commands: Iterable[tuple[str, Mapping[str, str] | None]]) -> str:
    """(command, headers) pairs as the frames of one write: the command line, its headers, a blank line."""
    frames = []
    for command, headers in commands:
        if headers:
            frames.append(command + "\n" + "".join(f"{k}: {v}\n" for k, v in headers.items()) + "\n")
        else:
            frames.append(command + "\n\n")
    return "".join(frames)


class HeaderBlock:
    """A header block (``Name: value`` lines) kept as one string; values are found on demand.

    An event or a connect reply carries ~150-200 headers of which a call reads a handful:
    splitting every line into a dict cost more than everything else the reader did, and the
    dict of a connect reply (kept for the whole call) is several times the size of its text.
    ``get`` finds ``\nName: `` in the text (the last occurrence wins, as in a dict built line by
    line; values are url-encoded by FreeSWITCH, so a line break always starts a header line).
    The dict is built only when the whole block is asked for (``items``, iteration).

    Well-formedness is checked at construction: a block with fewer ``: `` separators (or
    ``Name:`` empty-value lines) than lines is parsed at once, which raises
    :class:`ProtocolError` for its bad line exactly as before.
    """

    __slots__ = ("_text", "_dict")

    def __init__(self, block: str):
        block = block.strip("\n")
        lines = block.count("\n") + 1 if block else 0
        separators = block.count(": ")
        if separators < lines:  # empty values ("Name:") are rare: count them only when needed
            separators += block.count(":\n") + (block[-1:] == ":")
        if separators < lines:
            self._dict = parse_header_lines(block)  # raises for a line without a separator
            self._text = None
        else:
            self._dict = None
            self._text = "\n" + block + "\n"

    def get(self, name: str, default: str | None = None) -> str | None:
        if self._dict is not None:
            return self._dict.get(name, default)
        text = self._text
        # one scan: a name holds no ":", so "\nName:" starts a line of exactly this header,
        # either "Name: value" or the empty "Name:"
        at = text.rfind("\n" + name + ":")
        if at < 0:
            return default
        start = at + len(name) + 2
        if text[start] != " ":
            return ""
        start += 1
        return text[start:text.index("\n", start)]

    def _full(self) -> dict[str, str]:
        if self._dict is None:
            self._dict = parse_header_lines(self._text)
            self._text = None
        return self._dict

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self):
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())

    def items(self):
        return self._full().items()

    def keys(self):
        return self._full().keys()

    def values(self):
        return self._full().values()

    def __eq__(self, other) -> bool:
        if isinstance(other, HeaderBlock):
            other = other._full()
        return self._full() == other

    __hash__ = None

    def __repr__(self) -> str:
        return f"HeaderBlock({self._full()!r})"


class EslEvent:
    """A ``text/event-plain`` event. Header values are url-decoded on first access."""

    __slots__ = ("_raw", "_decoded", "body")

    def __init__(self, raw_headers: "dict[str, str] | HeaderBlock", body: str | None = None):
        self._raw = raw_headers
        self._decoded: dict[str, str] | None = None
        self.body = body

    @property
    def name(self) -> str | None:
        return self._raw.get("Event-Name")

    @property
    def raw(self) -> "dict[str, str] | HeaderBlock":
        """The headers as on the wire (url-encoded)."""
        return self._raw

    def get(self, name: str, default: str | None = None) -> str | None:
        decoded = self._decoded
        if decoded is None:
            decoded = self._decoded = {}
        else:
            try:
                return decoded[name]
            except KeyError:
                pass
        raw = self._raw.get(name)
        if raw is None:
            return default
        value = decoded[name] = decode(raw)
        return value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def variable(self, name: str, default: str | None = None) -> str | None:
        return self.get("variable_" + name, default)

    @property
    def headers(self) -> dict[str, str]:
        """All headers, decoded (builds a new dict: for debugging and tests)."""
        return {name: decode(value) for name, value in self._raw.items()}

    def __repr__(self) -> str:
        return f"<EslEvent {self.name} {self._raw.get('Application', '')} {self._raw.get('Unique-ID', '')}>"


class Reply:
    """A ``command/reply`` (``text`` = Reply-Text) or ``api/response`` (``text`` = body)."""

    __slots__ = ("content_type", "headers", "text")

    def __init__(self, content_type: str, headers: dict[str, str], text: str):
        self.content_type = content_type
        self.headers = headers
        self.text = text

    @property
    def ok(self) -> bool:
        return not self.text.startswith("-ERR")


def parse_event(body: str) -> EslEvent:
    """The body of a ``text/event-plain`` frame: its header block, then its own body when it
    carries an inner ``Content-Length`` (BACKGROUND_JOB)."""
    head, sep, rest = body.partition("\n\n")
    headers = HeaderBlock(head)
    inner = None
    length = headers.get("Content-Length")
    if length is not None:
        try:
            n = int(length)
        except ValueError:
            raise ProtocolError(f"bad inner Content-Length {length[:40]!r}") from None
        inner = rest[:n]
    return EslEvent(headers, inner)


def read_frames(recv: Callable[[int], bytes]) -> Iterator[tuple[HeaderBlock, str | None]]:
    """Frames of the stream ``recv`` reads: (headers, body or None), cut at the first blank line
    plus ``Content-Length`` bytes. Ends when the peer closes; :class:`ProtocolError` for what is
    not framing; ``recv``'s OSError passes through."""
    buf = bytearray()
    pending_headers: HeaderBlock | None = None
    need = 0
    while True:
        data = recv(READ_SIZE)
        if not data:
            return
        buf += data
        pos = 0
        while True:
            if pending_headers is None:
                end = buf.find(b"\n\n", pos)
                if end < 0:
                    if len(buf) - pos > MAX_HEADER_BLOCK_BYTES:
                        raise ProtocolError(f"no frame end within {MAX_HEADER_BLOCK_BYTES} bytes")
                    break
                block = buf[pos:end].decode("utf-8", "replace")
                pos = end + 2
                if not block.strip("\n"):
                    continue
                headers = HeaderBlock(block)
                length = headers.get("Content-Length")
                if length is None:
                    yield headers, None
                    continue
                try:
                    need = int(length)
                except ValueError:
                    raise ProtocolError(f"bad Content-Length {length[:40]!r}") from None
                if need < 0 or need > MAX_BODY_BYTES:
                    raise ProtocolError(f"bad Content-Length {need}")
                pending_headers = headers
            if len(buf) - pos < need:
                break
            body = buf[pos:pos + need].decode("utf-8", "replace")
            pos += need
            headers, pending_headers = pending_headers, None
            yield headers, body
        if pos == len(buf):
            # a fresh buffer: a bytearray trimmed from the front keeps its capacity, and
            # thousands of idle live legs would each hold their largest burst (~30 KiB)
            buf = bytearray()
        elif pos:
            del buf[:pos]
        # nor keep the last chunk and frame (~10-20 KiB a leg) while waiting for the next
        data = block = body = headers = None
