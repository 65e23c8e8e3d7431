"""The api commands the fake answers as mod_commands does (one function each, ``COMMANDS``), and
bgapi: the same command in a thread of its own, its result a BACKGROUND_JOB event to the owner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import gevent
from gevent.event import Event as GeventEvent

from .originate import originate
from .wire import event_plain, url_encode

if TYPE_CHECKING:
    from .leg import FakeLeg
    from .switch import FakeFreeSwitch


def run(fs: FakeFreeSwitch, command: str, owner: FakeLeg | None = None) -> str:
    """Run an api command like mod_commands does; returns the api/response body."""
    word, _, rest = command.strip().partition(" ")
    args = rest.split()
    if word == "originate":
        return originate(fs, rest, owner)
    if word == "sched_del":
        # mod_commands: a digit string is a task id, anything else a group; sched_hangup and
        # sched_broadcast schedule in the group named by the channel uuid
        if not args:
            return "-ERR Invalid syntax\n"
        return f"+OK Deleted: {fs.unschedule(args[0])}\n"
    on_channel = CHANNEL_COMMANDS.get(word)
    if on_channel is not None:
        uuid_arg = args[1] if word.startswith("sched_") and len(args) > 1 else (args[0] if args else "")
        leg = fs.legs.get(uuid_arg)
        if leg is None or leg.hangup_started:
            return "-ERR No such channel!\n"
        return on_channel(fs, leg, args)
    if word == "status":
        return "UP 0 years, 0 days\nFreeSWITCH (Version 1.10.12 fake) is ready\n"
    return f"-ERR {word} Command not found!\n"


# ---------------------------------------------------------------- commands on a live channel
def uuid_kill(fs: FakeFreeSwitch, leg: FakeLeg, args: list[str]) -> str:
    gevent.spawn(leg.hangup, args[1] if len(args) > 1 else "NORMAL_CLEARING")
    return "+OK\n"


def uuid_break(fs: FakeFreeSwitch, leg: FakeLeg, args: list[str]) -> str:
    leg.break_media()
    return "+OK\n"


def uuid_getvar(fs: FakeFreeSwitch, leg: FakeLeg, args: list[str]) -> str:
    return leg.variables.get(args[1], "_undef_") if len(args) > 1 else "-ERR Usage\n"


def uuid_setvar(fs: FakeFreeSwitch, leg: FakeLeg, args: list[str]) -> str:
    leg.set_var(args[1], " ".join(args[2:]) or None)
    return "+OK\n"


def uuid_bridge(fs: FakeFreeSwitch, leg: FakeLeg, args: list[str]) -> str:
    other = fs.legs.get(args[1]) if len(args) > 1 else None
    if other is None or other.hangup_started:
        return "-ERR No such channel!\n"
    leg.call.note_callee_command()
    leg.transfer_profile(other, True)
    other.transfer_profile(leg, False)
    for side, peer in ((leg, other), (other, leg)):  # linked now: a hangup from here on clears both
        side.bridge_peer, side.bridged_with = peer, peer.uuid
    gevent.spawn(leg.uuid_bridge_side, other, True)
    gevent.spawn(other.uuid_bridge_side, leg, False)
    return f"+OK {other.uuid}\n"


def sched_hangup(fs: FakeFreeSwitch, leg: FakeLeg, args: list[str]) -> str:
    seconds = int(args[0].lstrip("+"))
    fs.schedule(seconds, leg.hangup, args[2] if len(args) > 2 else "ALLOTTED_TIMEOUT", group=leg.uuid)
    return "+OK\n"


def sched_broadcast(fs: FakeFreeSwitch, leg: FakeLeg, args: list[str]) -> str:
    seconds = int(args[0].lstrip("+"))
    fs.schedule(seconds, broadcast, leg, args[2], args[3] if len(args) > 3 else "aleg", group=leg.uuid)
    return "+OK Message scheduled\n"


def uuid_broadcast(fs: FakeFreeSwitch, leg: FakeLeg, args: list[str]) -> str:
    if len(args) < 2:
        return "-ERR Usage: uuid_broadcast <uuid> <path> [aleg|bleg|both]\n"
    broadcast(leg, args[1], args[2] if len(args) > 2 else "aleg")
    return "+OK Message sent\n"


CHANNEL_COMMANDS: dict[str, Callable[["FakeFreeSwitch", "FakeLeg", list[str]], str]] = {
    "uuid_kill": uuid_kill,
    "uuid_break": uuid_break,
    "uuid_getvar": uuid_getvar,
    "uuid_setvar": uuid_setvar,
    "uuid_bridge": uuid_bridge,
    "sched_hangup": sched_hangup,
    "sched_broadcast": sched_broadcast,
    "uuid_broadcast": uuid_broadcast,
}


def broadcast(leg: FakeLeg, path: str, which: str = "aleg") -> None:
    """uuid_broadcast / sched_broadcast: play ``path`` (or ``app::arg``) to the leg, its bridged
    peer (``bleg``) or both; a broadcast runs even while the leg is bridged."""
    app, sep, app_arg = path.partition("::")
    if not sep:
        app, app_arg = "playback", path
    targets = {"aleg": [leg], "bleg": [leg.bridge_peer], "both": [leg, leg.bridge_peer]}.get(which, [leg])
    for target in targets:
        if target is not None and not target.hangup_started:
            target.broadcasts.append(app_arg)
            target.queue_app(app, app_arg, None, event_lock=True)
            target.reached("broadcast")


def background_job(fs: FakeFreeSwitch, command: str, owner: FakeLeg, job_uuid: str) -> None:
    """``bgapi``: run the command, then send its result to the owner's socket a tick later."""
    word, _, rest = command.strip().partition(" ")
    if word == "originate":
        owner.call.note_callee_command()
    answered = GeventEvent()
    owner.pending_jobs.add(answered)
    try:
        body = run(fs, command, owner=owner)
        owner.step()
        conn = owner.connection
        if conn is None or not conn.wants("BACKGROUND_JOB"):
            return
        head = fs.event_head("BACKGROUND_JOB", *fs.calling("BACKGROUND_JOB"))
        block = head + "".join(f"{k}: {url_encode(v)}\n" for k, v in (
            ("Job-UUID", job_uuid), ("Job-Owner-UUID", owner.uuid), ("Job-Command", word),
            ("Job-Command-Arg", rest)))
        conn.send(event_plain(block, body))
    finally:
        owner.pending_jobs.discard(answered)
        answered.set()
