"""Test support: a fake FreeSWITCH speaking the real outbound Event Socket protocol."""

from .fake_freeswitch import (FAILURES, CalleeScript, FakeCall, FakeConnection, FakeFreeSwitch, FakeLeg,
                              LegScript, Press)

__all__ = ["FAILURES", "CalleeScript", "FakeCall", "FakeConnection", "FakeFreeSwitch", "FakeLeg", "LegScript",
           "Press"]
