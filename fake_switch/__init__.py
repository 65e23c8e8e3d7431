"""Test support, not part of the installed product: a fake FreeSWITCH speaking the real outbound
and inbound Event Socket protocol (fs-transcripts), FreeSWITCH's JSON CDRs, and ``fsapp serve``
as a process. fs_app never imports it; tests and bench/ do.

One module per concern: :mod:`.wire` (frames as FreeSWITCH writes them), :mod:`.connection`
(one Event Socket connection and its commands), :mod:`.leg` (a channel's state and events),
:mod:`.apps` (one function per dialplan application), :mod:`.api` (api/bgapi commands),
:mod:`.originate`, :mod:`.scheduler` (the 20 ms tick and sched_*), :mod:`.scripts` (what the far
end does), :mod:`.switch` (:class:`FakeFreeSwitch`), :mod:`.inbound` (the inbound socket)."""

from .apps import ANY_KEY, DEFAULT_PLAYBACK_TERMINATORS
from .call import FakeCall
from .connection import FakeConnection
from .inbound import FakeInboundEventSocket
from .leg import STATE_NUMBERS, FakeLeg
from .scheduler import FS_TICK
from .scripts import FAILURE_DELAY, FAILURES, LEG_PREFIXES, MOMENTS, CalleeScript, LegScript, Press
from .switch import FakeFreeSwitch

__all__ = ["ANY_KEY", "DEFAULT_PLAYBACK_TERMINATORS", "FAILURES", "FAILURE_DELAY", "FS_TICK", "LEG_PREFIXES",
           "MOMENTS", "STATE_NUMBERS", "CalleeScript", "FakeCall", "FakeConnection", "FakeFreeSwitch",
           "FakeInboundEventSocket", "FakeLeg", "LegScript", "Press"]
