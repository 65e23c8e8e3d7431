"""`fsapp serve`, the main job, as an operator runs it: a real process with the Event Socket
server and the admin; FreeSWITCH (the fake) hands it a call; /healthz, /readyz and /metrics
answer; SIGTERM drains and exits 0. A port that is taken (by another install, say) refuses the
start with one line and exit 2, before anything is started or written."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import models
from models.calls.tables import CallRecord
from fake_switch import FakeFreeSwitch
from fake_switch.serve_process import ServeProcess

FSAPP = str(Path(sys.executable).parent / "fsapp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(url: str, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_serve_handles_a_call_answers_probes_and_drains_on_sigterm(tmp_path):
    env = {**os.environ, "FSAPP_DATA_DIR": str(tmp_path)}
    env.pop("FSAPP_DATABASE_URL", None)
    subprocess.run([FSAPP, "init"], env=env, check=True, capture_output=True)
    esl_port, http_port = free_port(), free_port()
    process = subprocess.Popen([FSAPP, "serve", "--esl", f"127.0.0.1:{esl_port}", "--http", f"127.0.0.1:{http_port}"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{http_port}"
        wait_for(base + "/healthz")
        assert get(base + "/healthz") == (200, "ok\n")
        status, body = get(base + "/readyz")
        assert status == 200 and '"event_socket": "ok"' in body and '"database": "ok"' in body
        assert "fsapp_admissions_total" in get(base + "/metrics")[1]
        status, body = get(base + "/login")
        assert status == 200 and "<form" in body

        fake = FakeFreeSwitch("127.0.0.1", esl_port, time_scale=0.01)
        try:
            call = fake.place_call("13800138000", caller="9999", sip_auth_username="9999",
                                   sip_auth_realm="nowhere.example", variables={"fsapp_direction": "outbound"})
            assert call.wait_ended(15)
            assert call.a_leg.hangup_cause not in ("", None, "NORMAL_TEMPORARY_FAILURE")
        finally:
            fake.close()
        models.open_database("", tmp_path)
        record = CallRecord.get(CallRecord.agent_uuid == call.a_leg.uuid)
        assert record.decision == "blocked" and "SEAT_UNKNOWN" in record.reasons
        models.database.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            raise AssertionError("fsapp serve did not stop on SIGTERM:\n" + output)
    assert process.returncode == 0, output
    assert "fsapp serving" in output and "fsapp stopped" in output


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_an_uninitialised_database(tmp_path, workers):
    env = {**os.environ, "FSAPP_DATA_DIR": str(tmp_path / "fresh")}
    env.pop("FSAPP_DATABASE_URL", None)
    result = subprocess.run([FSAPP, "serve", "--esl", "127.0.0.1:0", "--http", "127.0.0.1:0", "--workers", workers],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "fsapp init" in result.stderr
    assert "worker" not in result.stderr  # refused by the supervisor, before any worker started


def refuses_to_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def call_is_handled(esl_port: int) -> bool:
    fake = FakeFreeSwitch("127.0.0.1", esl_port, time_scale=0.01)
    try:
        call = fake.place_call("13800138000", caller="9999", sip_auth_username="9999",
                               sip_auth_realm="nowhere.example", variables={"fsapp_direction": "outbound"})
        return call.wait_ended(15) and call.a_leg.hangup_cause not in ("", None, "NORMAL_TEMPORARY_FAILURE")
    finally:
        fake.close()


def test_a_taken_port_refuses_the_start_with_one_line_and_leaves_the_first_serve_alone(tmp_path):
    env = {**os.environ, "FSAPP_DATA_DIR": str(tmp_path / "first")}
    env.pop("FSAPP_DATABASE_URL", None)
    subprocess.run([FSAPP, "init"], env=env, check=True, capture_output=True)
    first = ServeProcess(env).wait_serving()
    # another install, with another (not even created) database, on the first one's ports
    other_dir = tmp_path / "other"
    other_env = {**env, "FSAPP_DATA_DIR": str(other_dir)}
    try:
        for taken, esl, http in (("Event Socket", first.esl_port, free_port()),
                                 ("HTTP", free_port(), first.http_port)):
            second = subprocess.run([FSAPP, "serve", "--esl", f"127.0.0.1:{esl}", "--http", f"127.0.0.1:{http}"],
                                    env=other_env, capture_output=True, text=True, timeout=60)
            taken_port = esl if taken == "Event Socket" else http
            free = http if taken == "Event Socket" else esl
            assert second.returncode == 2, second
            assert second.stdout == "" and len(second.stderr.splitlines()) == 1, second.stderr
            assert f"127.0.0.1:{taken_port}" in second.stderr and "already in use" in second.stderr
            assert taken in second.stderr
            assert refuses_to_connect(free)  # nothing of the second one is left listening
            assert not other_dir.exists()  # nor written: no database file, no directory
        base = f"http://127.0.0.1:{first.http_port}"
        assert get(base + "/readyz")[0] == 200
        assert call_is_handled(first.esl_port)
    finally:
        code, output = first.stop()
    assert code == 0, output
    assert "fsapp serving" in output and "fsapp stopped" in output
