"""Test support: a fake FreeSWITCH speaking the real outbound and inbound Event Socket protocol."""

from .fake_freeswitch import (FAILURES, CalleeScript, FakeCall, FakeConnection, FakeFreeSwitch, FakeLeg,
                              LegScript, Press)
from .fake_inbound import FakeInboundEventSocket

__all__ = ["FAILURES", "CalleeScript", "FakeInboundEventSocket", "FakeCall", "FakeConnection", "FakeFreeSwitch", "FakeLeg", "LegScript",
           "Press"]
