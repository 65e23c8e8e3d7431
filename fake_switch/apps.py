"""The dialplan applications the fake runs on a leg, one function each (``APPS``: application
name -> function of the leg and the run). A function returns the Application-Response (None for
``_none_``); the leg emits CHANNEL_EXECUTE before and CHANNEL_EXECUTE_COMPLETE after it."""

from __future__ import annotations

import re
import time
import uuid as uuid_module
from typing import TYPE_CHECKING, Callable

import gevent

from .dialstring import dialled_number, split_vars
from .profiles import with_callee_id
from .scripts import FAILURES, seconds_to_fail
from .wire import clock_us

if TYPE_CHECKING:
    from .leg import AppRun, FakeLeg

#: playback_terminators when the channel has none (mod_dptools on_dtmf); "any" stands for all keys
DEFAULT_PLAYBACK_TERMINATORS = "*"
ANY_KEY = "1234567890*#"

_TONE_RE = re.compile(r"%\(([\d,]+)\)")
_LOOPS_RE = re.compile(r"loops=(-?\d+)")


def answer(leg: FakeLeg, run: AppRun) -> None:
    if not leg.answered:
        leg.step()
        leg.mark_answered()
    leg.set_var("endpoint_disposition", "ANSWER")

def pre_answer(leg: FakeLeg, run: AppRun) -> None:
    """183 with SDP to the caller (07): PROGRESS_MEDIA at once, the completion a tick later;
    no CHANNEL_ANSWER."""
    if leg.answered or leg.early_media:
        return None
    leg.early_media = True
    leg.answer_state = "early"
    leg.set_profile_time("Caller-Channel-Progress-Media-Time")
    leg.set_var("endpoint_disposition", "EARLY MEDIA")
    leg.emit("CHANNEL_PROGRESS_MEDIA")
    leg.step()
    leg.call_state = "EARLY"
    return None

def ring_ready(leg: FakeLeg, run: AppRun) -> None:
    return None

def set_variable(leg: FakeLeg, run: AppRun) -> None:
    name, _, value = (run.arg or "").partition("=")
    leg.set_var(name, value or None)

def export_variable(leg: FakeLeg, run: AppRun) -> None:
    name, _, value = (run.arg or "").partition("=")
    leg.set_var(name, value or None)
    exported = [v for v in leg.variables.get("export_vars", "").split(",") if v]
    if name not in exported:
        exported.append(name)
    leg.set_var("export_vars", ",".join(exported))

def media_seconds(leg: FakeLeg, path: str) -> float:
    if path.startswith("silence_stream://"):
        try:
            return int(path[17:].split(",")[0]) / 1000.0
        except ValueError:
            return 0.0
    if path.startswith("tone_stream://"):
        match = _TONE_RE.search(path)
        if not match:
            return 0.0
        numbers = [int(x) for x in match.group(1).split(",")]
        once = (numbers[0] + (numbers[1] if len(numbers) > 1 else 0)) / 1000.0
        loops_match = _LOOPS_RE.search(path)
        loops = int(loops_match.group(1)) if loops_match else 1
        return 10 ** 9 if loops < 0 else once * max(loops, 1)
    return leg.script.file_seconds

def playback_terminators(leg: FakeLeg) -> str:
    """Keys that end a plain playback (mod_dptools on_dtmf): the channel's
    ``playback_terminators``, ``*`` when unset, none for "none", every key for "any"."""
    value = leg.variables.get("playback_terminators")
    if value is None:
        return DEFAULT_PLAYBACK_TERMINATORS
    if value.lower() == "none":
        return ""
    return ANY_KEY if value.lower() == "any" else value

def playback(leg: FakeLeg, run: AppRun) -> str:
    seconds = media_seconds(leg, run.arg or "")
    leg.set_var("playback_terminator_used", None)  # playback_function clears it first
    queued, leg.digit_buffer = leg.digit_buffer, []
    for digit in queued:  # keys pressed before the playback: read (and consumed) by it at once
        if terminates(leg, run, digit):
            break
    started = time.monotonic()
    stopped = leg.media(run, seconds)
    if run.stop_reason and seconds < 10 ** 8:
        seconds = min(seconds, (time.monotonic() - started) / (leg.fs.time_scale or 1))
    played_ms = int(seconds * 1000) if seconds < 10 ** 8 else 0
    leg.set_var("playback_last_offset_pos", str(played_ms * 8))
    leg.set_var("playback_seconds", str(played_ms // 1000))
    leg.set_var("playback_ms", str(played_ms))
    leg.set_var("playback_samples", str(played_ms * 8))
    return "PLAYBACK ERROR" if stopped == "PLAYBACK ERROR" else "FILE PLAYED"

def terminates(leg: FakeLeg, run: AppRun, digit: str) -> bool:
    """A key reaching a plain playback: a terminator stops it (FILE PLAYED,
    ``playback_terminator_used``, 08c); any other key is consumed and lost (08a)."""
    if digit not in playback_terminators(leg):
        return False
    leg.set_var("playback_terminator_used", digit)
    run.stop("FILE PLAYED")
    return True

def sleep(leg: FakeLeg, run: AppRun) -> None:
    try:
        leg.media(run, int(run.arg or "0") / 1000.0)
    except ValueError:
        pass

def play_and_get_digits(leg: FakeLeg, run: AppRun) -> None:
    """switch_play_and_get_digits: per try, the prompt (cut short once ``max`` keys came),
    then ``timeout`` ms for the keys; keys matching ``regexp`` succeed (08b); otherwise the
    invalid prompt plays and the variable is unset; after the last try ``read_result`` is
    ``failure`` (08a: prompt, timeout and invalid prompt, 7.25 s)."""
    args = (run.arg or "").split(" ")
    try:
        max_digits = int(args[1])
        tries = int(args[2])
        timeout_s = int(args[3]) / 1000.0
        prompt = args[5]
    except (IndexError, ValueError):
        return None
    invalid = args[6] if len(args) > 6 else ""
    var_name = args[7] if len(args) > 7 else "pagd_digit"
    pattern = args[8] if len(args) > 8 else ""
    leg.set_var(var_name, None)

    def enough() -> bool:
        return len(leg.digit_buffer) >= max(max_digits, 1)

    for _ in range(max(tries, 1)):
        if leg.pending_presses:
            press = leg.pending_presses.pop(0)
            if press.digit is not None:
                gevent.spawn_later(press.after * leg.fs.time_scale, leg.press, press.digit)
        stopped = None if enough() else leg.media(run, media_seconds(leg, prompt), until=enough)
        if stopped == "PLAYBACK ERROR" or leg.hangup_started:
            break
        if not leg.digit_buffer:
            leg.media(run, timeout_s, until=lambda: bool(leg.digit_buffer))
        if run.stop_reason == "PLAYBACK ERROR" or leg.hangup_started:
            break
        digits = "".join(leg.digit_buffer[:max_digits])
        del leg.digit_buffer[:max_digits]
        if digits and (not pattern or re.search(pattern, digits)):
            leg.set_var("read_result", "success")
            leg.set_var(var_name, digits)
            return None
        leg.set_var(var_name, None)
        if invalid and leg.media(run, media_seconds(leg, invalid)) == "PLAYBACK ERROR":
            break
    leg.set_var("read_result", "failure")
    return None

def record_session(leg: FakeLeg, run: AppRun) -> None:
    leg.step()
    recording = {"path": run.arg, "started": time.monotonic(), "stopped": None}
    leg.recordings.append(recording)
    leg.emit("RECORD_START", suffix=[("Record-File-Path", run.arg or "")])

def sched_hangup(leg: FakeLeg, run: AppRun) -> None:
    parts = (run.arg or "").split()
    if parts and parts[0].startswith("+"):
        cause = parts[1] if len(parts) > 1 else "ALLOTTED_TIMEOUT"
        leg.fs.schedule(int(parts[0][1:]), leg.hangup, cause)

def hangup(leg: FakeLeg, run: AppRun) -> None:
    gevent.spawn(leg.hangup, run.arg or "NORMAL_CLEARING", at_once=True)
    gevent.sleep(0)  # CHANNEL_HANGUP goes out before this app's EXECUTE_COMPLETE (03)
    gevent.sleep(0)

def bridge(leg: FakeLeg, run: AppRun) -> None:
    target = run.arg or ""
    call = leg.call
    call.note_callee_command()
    vars_, dial = split_vars(target)
    number = dialled_number(dial)
    script = call.script_for(number)
    b_uuid = str(uuid_module.uuid4())
    leg.set_var("sip_invite_failure_status", None)
    leg.set_var("sip_invite_failure_phrase", None)
    if script.outcome in ("answer", "no_answer"):  # the callee rang: its id shows (03)
        leg.replace_caller_profile(with_callee_id(leg.caller_profile, "Outbound Call", number))
    if script.outcome != "answer":
        cause, dialstatus, sip_status, phrase = FAILURES[script.outcome]
        stopped = leg.media(run, seconds_to_fail(script, vars_))
        if stopped == "PLAYBACK ERROR" or leg.hangup_started:
            return None
        leg.set_var("originate_signal_bond", b_uuid)
        leg.set_var("originated_legs", f"{b_uuid};Outbound Call;{number}")
        if sip_status:
            leg.set_var("sip_invite_failure_status", sip_status)
            leg.set_var("sip_invite_failure_phrase", phrase)
            leg.set_var("sip_hangup_phrase", phrase)
        leg.set_var("last_bridge_hangup_cause", cause)
        if sip_status:
            leg.set_var("last_bridge_proto_specific_hangup_cause", f"sip:{sip_status}")
        leg.set_var("originate_disposition", cause)
        leg.set_var("DIALSTATUS", dialstatus)
        leg.set_var("originate_causes", f"{b_uuid};{cause}")
        leg.set_var("originate_failed_cause", cause)
        call.callee_failures.append((number, cause))
        return None
    if leg.media(run, script.answer_after) == "PLAYBACK ERROR":
        return None
    b_leg = leg.fs.new_originated_leg(call, number, vars_, script, b_uuid, socket_address=None)
    leg.bridge_peer, b_leg.bridge_peer = b_leg, leg
    leg.bridged_with, b_leg.bridged_with = b_leg.uuid, leg.uuid
    leg.bridge_first = True
    leg.other_type = "originatee"
    leg.other_from_template = True
    leg.bridge_active = True
    for k, v in (("originated_legs", f"{b_leg.uuid};Outbound Call;{number}"),
                 ("originate_disposition", "SUCCESS"), ("DIALSTATUS", "SUCCESS"),
                 ("originate_causes", f"{b_leg.uuid};NONE"), ("signal_bond", b_leg.uuid)):
        leg.set_var(k, v)
    leg.step()
    leg.bridged_us = b_leg.bridged_us = clock_us()
    leg.emit("CHANNEL_BRIDGE", prefix=[("Bridge-A-Unique-ID", leg.uuid), ("Bridge-B-Unique-ID", b_leg.uuid)])
    leg.reached("bridge")
    b_leg.reached("bridge")
    # The bridge lasts until either side hangs up.
    run.wake.clear()
    while not run.stop_reason and not b_leg.hangup_started:
        run.wake.wait(0.5)
        run.wake.clear()
    if b_leg.hangup_started and not leg.hangup_started:
        b_leg.hangup_done.wait(5)
        leg.step()
        for k, v in (("last_bridge_to", b_leg.uuid), ("bridge_channel", b_leg.channel_name),
                     ("bridge_uuid", b_leg.uuid), ("last_bridge_hangup_cause", b_leg.hangup_cause),
                     ("last_bridge_proto_specific_hangup_cause", "sip:200"),
                     ("bridge_hangup_cause", b_leg.hangup_cause)):
            leg.set_var(k, v)
        leg.emit("CHANNEL_UNBRIDGE", prefix=[("Bridge-A-Unique-ID", leg.uuid), ("Bridge-B-Unique-ID", b_leg.uuid)])
        leg.bridge_active = False  # the B leg is gone; our socket app goes on (Other-Leg-* stays)
    return None


APPS: dict[str, Callable[["FakeLeg", "AppRun"], "str | None"]] = {
    "answer": answer,
    "pre_answer": pre_answer,
    "ring_ready": ring_ready,
    "set": set_variable,
    "export": export_variable,
    "playback": playback,
    "sleep": sleep,
    "play_and_get_digits": play_and_get_digits,
    "record_session": record_session,
    "sched_hangup": sched_hangup,
    "hangup": hangup,
    "bridge": bridge,
}
