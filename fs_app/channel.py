"""One FreeSWITCH channel over an outbound Event Socket connection: the one face the flows and
the server import. Everything Event Socket lives in :mod:`fs_app.esl` behind it (frames,
connection, commands; docs/architecture.md, "Event Socket")."""

from fs_app.esl.commands import Commands
from fs_app.esl.errors import ChannelError, ChannelGone, ChannelTimeout, CommandError, OriginateFailed

__all__ = ["Channel", "ChannelError", "ChannelGone", "ChannelTimeout", "CommandError", "OriginateFailed"]


class Channel(Commands):
    """An outbound Event Socket connection owning one FreeSWITCH channel, with straight-line,
    blocking (gevent) methods. Create it with the accepted socket and call :meth:`connect` (the
    server does this and hands the connected channel to the call handler)."""
