"""Call flows: one straight-line function per kind of leg (the jambonz session split, in gevent).

``make_handler(settings, meter=None)`` returns the ``handler(channel)`` that
:class:`fs_app.server.CallServer` runs once per connected channel. It routes on the channel
variables FreeSWITCH handed over with the channel:

* ``variable_fsapp_role == "callee"``: a callee leg we originated (:mod:`.callee_leg`). It may
  reach *any* app process of the cluster: everything it needs travels as originate variables
  (``fsapp_parent``, ``fsapp_tenant``, ``fsapp_record``, ...) and in the database;
* ``variable_fsapp_direction == "inbound"``: a call to a leased number (:mod:`.inbound_leg`);
* anything else: an agent's outbound call (:mod:`.agent_leg`).

The flows never share memory between legs: they are linked only through FreeSWITCH (channel
variables, ``uuid_break``, ``uuid_bridge``) and the database. See docs/call-flows.md.
"""
from __future__ import annotations

from typing import Callable

from fs_app.channel import Channel
from fs_app.metering import Meter

from . import agent_leg, callee_leg

__all__ = ["make_handler"]


def make_handler(settings, meter: Meter | None = None) -> Callable[[Channel], None]:
    """The per-channel handler for ``CallServer``; ``meter`` defaults to ``Meter(settings)``."""
    meter = meter or Meter(settings)

    def handle(channel: Channel) -> None:
        if channel.variable("fsapp_role") == "callee":
            callee_leg.run(channel, settings, meter)
        elif channel.variable("fsapp_direction") == "inbound":
            from . import inbound_leg
            inbound_leg.run(channel, settings, meter)
        else:
            agent_leg.run(channel, settings, meter)

    return handle
