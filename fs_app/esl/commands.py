"""The command vocabulary the call flows use (answer, playback, play_and_get_digits, originate,
uuid_bridge, sched_hangup, ...), each one or a few Event Socket commands on a :class:`Connection`."""

from __future__ import annotations

from typing import Iterable, Mapping

from .connection import BackgroundJob, Connection
from .errors import CommandError


class Commands(Connection):
    """A connection that speaks the applications and api commands the flows need."""

    # ------------------------------------------------------------------ applications
    def answer(self, timeout: float | None = None) -> None:
        self.execute("answer", timeout=timeout)

    def playback(self, path: str, *, timeout: float | None = None, tolerate_hangup: bool = False) -> str | None:
        """Play a file; returns Application-Response (``FILE PLAYED``, ``PLAYBACK ERROR``, ...)."""
        return self.execute("playback", path, timeout=timeout,
                            tolerate_hangup=tolerate_hangup).get("Application-Response")

    def play_and_hang_up(self, path: str, cause: str, *, break_media: bool = False,
                         timeout: float | None = None) -> str | None:
        """Play a file, then hang up with ``cause``: one write (``api uuid_break`` first when
        ``break_media``, to stop what plays; then ``playback`` and the ``hangup`` application,
        both with event-lock so the hangup waits for the prompt, fs-transcripts 01/03). Waits for
        CHANNEL_HANGUP; returns the hangup cause."""
        before = [f"api uuid_break {self.uuid} all"] if break_media else []
        self.execute_in_one_write((("playback", path), ("hangup", cause)), before=before, tolerate_hangup=True)
        return self.wait_hangup(timeout)

    def playback_until_key(self, path: str, *, timeout: float | None = None) -> str | None:
        """Play a file that a key of the channel's ``playback_terminators`` cuts short; returns
        that key (``playback_terminator_used``, which playback clears first) or None when it
        played to the end. Other keys pressed meanwhile are consumed by FreeSWITCH (08a/08c)."""
        done = self.execute("playback", path, timeout=timeout)
        return done.get("variable_playback_terminator_used") or None

    def key_pressed_at(self, digit: str) -> str | None:
        """FreeSWITCH's time (Event-Date-Timestamp, microseconds) of the last DTMF event of
        ``digit`` on this channel, or None."""
        for pressed, stamp in zip(reversed(self.dtmf), reversed(self.dtmf_stamps)):
            if pressed == digit:
                return stamp
        return None

    def play_and_get_digits(self, prompt: str, *, min_digits: int = 1, max_digits: int = 1, tries: int = 1,
                            digit_timeout_ms: int = 5000, terminators: str = "#",
                            invalid_prompt: str = "silence_stream://250", var_name: str = "pagd_digit",
                            regexp: str = "\\d", inter_digit_timeout_ms: int | None = None,
                            timeout: float | None = None) -> str | None:
        """Play ``prompt`` and collect digits; returns them, or ``None`` on timeout / no match."""
        if " " in prompt or " " in invalid_prompt:
            raise ValueError("play_and_get_digits prompts must not contain spaces")
        arg = (f"{min_digits} {max_digits} {tries} {digit_timeout_ms} {terminators} {prompt} "
               f"{invalid_prompt} {var_name} {regexp}")
        if inter_digit_timeout_ms is not None:
            arg += f" {inter_digit_timeout_ms}"
        done = self.execute("play_and_get_digits", arg, timeout=timeout)
        digits = done.get("variable_" + var_name)
        return digits or None

    def set_var(self, name: str, value: str, *, timeout: float | None = None) -> None:
        self.execute("set", f"{name}={value}", timeout=timeout)

    def export_var(self, name: str, value: str, *, timeout: float | None = None) -> None:
        """Set a variable that is also copied to legs this channel creates (``export``)."""
        self.execute("export", f"{name}={value}", timeout=timeout)

    def record_session(self, path: str, *, timeout: float | None = None) -> None:
        self.execute("record_session", path, timeout=timeout)

    # ------------------------------------------------------------------ other legs
    def originate(self, dial_string: str, *, socket_address: tuple[str, int],
                  variables: Mapping[str, str] | None = None, origination_uuid: str | None = None,
                  timeout: float | None = None, tolerate_hangup: bool = False) -> str:
        """Create a leg that comes to ``socket_address`` as its own outbound connection.

        Returns the new leg's uuid once it answered; raises :class:`OriginateFailed` with the
        cause otherwise. The ``&socket(...)`` argument is quoted (unquoted it would arrive in
        static single-channel mode, fs-transcripts 02x). Variable values must not contain
        ``,`` or ``}``. Note that the new leg's connection may reach the server *before* this
        returns.
        """
        return self.originate_async(dial_string, socket_address=socket_address, variables=variables,
                                    origination_uuid=origination_uuid,
                                    tolerate_hangup=tolerate_hangup).leg_uuid(timeout)

    def originate_async(self, dial_string: str, *, socket_address: tuple[str, int],
                        variables: Mapping[str, str] | None = None, origination_uuid: str | None = None,
                        tolerate_hangup: bool = False,
                        then: Iterable[tuple[str, str | None]] = ()) -> BackgroundJob:
        """:meth:`originate` that returns as soon as FreeSWITCH took the command (the INVITE is on
        its way); ``job.leg_uuid()`` waits for the outcome. ``then``: applications for this
        channel sent in the same write (e.g. ``pre_answer`` and a ringback), see :meth:`bgapi_async`."""
        variables = dict(variables or {})
        if origination_uuid is not None:
            variables["origination_uuid"] = origination_uuid
        for key, value in variables.items():
            if any(c in str(value) for c in ",}'") or any(c in key for c in ",=}"):
                raise ValueError(f"originate variable {key}={value!r} needs escaping")
        prefix = "{" + ",".join(f"{k}={v}" for k, v in variables.items()) + "}" if variables else ""
        host, port = socket_address
        return self.bgapi_async(f"originate {prefix}{dial_string} '&socket({host}:{port} async full)'",
                                tolerate_hangup=tolerate_hangup, then=then)

    def _api_ok(self, command: str, timeout: float | None) -> str:
        body = self.api(command, timeout=timeout)
        if not body.startswith("+OK"):
            raise CommandError(f"api {command}", body)
        return body

    def sched_hangup(self, seconds: int, cause: str = "ALLOTTED_TIMEOUT", *, uuid: str | None = None,
                     timeout: float | None = None) -> None:
        """Schedule a hangup (``api sched_hangup +N <uuid> CAUSE``; whole-second ticks)."""
        self._api_ok(f"sched_hangup +{int(seconds)} {uuid or self.uuid} {cause}", timeout)

    def sched_broadcast(self, seconds: int, path: str, *, leg: str = "aleg", uuid: str | None = None,
                        timeout: float | None = None) -> None:
        """Schedule a playback on the channel (``api sched_broadcast +N <uuid> playback::<path> <leg>``)."""
        self._api_ok(f"sched_broadcast +{int(seconds)} {uuid or self.uuid} playback::{path} {leg}", timeout)

    def uuid_bridge(self, other_uuid: str, *, timeout: float | None = None) -> None:
        """``api uuid_bridge <self> <other>``. Only the *first* uuid's socket (this one) gets
        CHANNEL_BRIDGE/UNBRIDGE; both get an EXECUTE_COMPLETE of ``socket`` (fs-transcripts 02)."""
        self._api_ok(f"uuid_bridge {self.uuid} {other_uuid}", timeout)

    def uuid_break(self, uuid: str | None = None, *, all: bool = True, timeout: float | None = None) -> None:
        """Stop media on a channel (default: this one); a broken playback completes ``FILE PLAYED``."""
        self._api_ok(f"uuid_break {uuid or self.uuid}{' all' if all else ''}", timeout)

    def uuid_setvar(self, uuid: str, name: str, value: str, *, timeout: float | None = None) -> bool:
        """Set a variable on another channel (``api uuid_setvar``); False when it is gone."""
        if any(c in value for c in " \n") or not name or any(c in name for c in " \n"):
            raise ValueError(f"uuid_setvar {name}={value!r}: names and values must be single words")
        return self.api(f"uuid_setvar {uuid} {name} {value}", timeout=timeout).startswith("+OK")

    def uuid_getvar(self, uuid: str, name: str, *, timeout: float | None = None) -> str | None:
        """A variable of another channel (``api uuid_getvar``): ``None`` when unset
        (``_undef_``); raises :class:`CommandError` when the channel does not exist
        (``-ERR No such channel!``, fs-transcripts 04a/06)."""
        body = self.api(f"uuid_getvar {uuid} {name}", timeout=timeout)
        if body.startswith("-ERR"):
            raise CommandError(f"api uuid_getvar {uuid} {name}", body)
        value = body.rstrip("\n")
        return None if value in ("", "_undef_") else value

    def uuid_broadcast(self, uuid: str, path: str, *, leg: str = "aleg", timeout: float | None = None) -> bool:
        """Play a file to a channel even while it is bridged (``api uuid_broadcast <uuid> <path>
        aleg|bleg|both``; mod_commands answers ``+OK Message sent``); False when it is gone."""
        if leg not in ("aleg", "bleg", "both"):
            raise ValueError(f"uuid_broadcast leg must be aleg, bleg or both, not {leg!r}")
        return self.api(f"uuid_broadcast {uuid} {path} {leg}", timeout=timeout).startswith("+OK")

    def sched_del(self, group: str | None = None, *, timeout: float | None = None) -> int:
        """Delete scheduled tasks (``api sched_del <group>``; ``+OK Deleted: N``). sched_hangup
        and sched_broadcast put their tasks in the group named by the channel uuid, so
        ``sched_del <uuid>`` (the default: this channel) cancels both. Returns N."""
        body = self._api_ok(f"sched_del {group or self.uuid}", timeout)
        try:
            return int(body.rsplit(":", 1)[-1].strip())
        except ValueError:
            return 0

    def uuid_kill(self, uuid: str, cause: str = "NORMAL_CLEARING", *, timeout: float | None = None) -> bool:
        """Hang up another channel; False when it is already gone (``-ERR No such channel!``)."""
        return self.api(f"uuid_kill {uuid} {cause}", timeout=timeout).startswith("+OK")
