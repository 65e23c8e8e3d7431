"""The Event Socket, split along its seams: :mod:`.frames` (the wire format), :mod:`.connection`
(one outbound connection: reading, dispatch, reply matching, hangup) and :mod:`.commands` (the
vocabulary the flows use). The flows import :class:`fs_app.channel.Channel`, never this package;
docs/architecture.md ("Event Socket") tells why it is written here rather than taken from greenswitch."""
