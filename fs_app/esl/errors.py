"""What the Event Socket code raises; :class:`ChannelGone` is also greenswitch's
``OutboundSessionHasGoneAway``, so code written against greenswitch catches ours."""

from __future__ import annotations

from greenswitch.esl import OutboundSessionHasGoneAway


class ChannelError(Exception):
    """Base class of everything the Event Socket code raises."""


class ChannelGone(ChannelError, OutboundSessionHasGoneAway):
    """The channel hung up or the Event Socket connection is gone.

    ``cause`` is the FreeSWITCH hangup cause when known (``NORMAL_CLEARING``,
    ``ALLOTTED_TIMEOUT``, ...), ``None`` when the socket was lost before any hangup event.
    """

    def __init__(self, cause: str | None, reason: str = ""):
        self.cause = cause
        self.reason = reason
        super().__init__(f"channel gone (cause={cause or 'unknown'}){': ' + reason if reason else ''}")


class ChannelTimeout(ChannelError):
    """A wait on the channel exceeded its timeout."""


class CommandError(ChannelError):
    """FreeSWITCH answered a command with ``-ERR ...``."""

    def __init__(self, command: str, reply: str):
        self.command = command
        self.reply = reply
        super().__init__(f"{command!r} failed: {reply.strip()}")


class OriginateFailed(ChannelError):
    """``originate`` returned ``-ERR <CAUSE>`` (USER_BUSY, NO_ANSWER, CALL_REJECTED, ...)."""

    def __init__(self, cause: str, body: str):
        self.cause = cause
        self.body = body
        super().__init__(f"originate failed: {cause}")


class ProtocolError(ChannelError):
    """The peer sent something that is not Event Socket framing."""
