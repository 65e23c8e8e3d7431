"""`fsapp serve`, the main job, as an operator runs it: a real process with the Event Socket
server and the admin; FreeSWITCH (the fake) hands it a call; /healthz, /readyz and /metrics
answer; SIGTERM drains and exits 0."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import models
from models.calls import CallRecord
from fs_app.testing import FakeFreeSwitch

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


def test_serve_refuses_an_uninitialised_database(tmp_path):
    env = {**os.environ, "FSAPP_DATA_DIR": str(tmp_path / "fresh")}
    env.pop("FSAPP_DATABASE_URL", None)
    result = subprocess.run([FSAPP, "serve", "--esl", "127.0.0.1:0", "--http", "127.0.0.1:0"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "fsapp init" in result.stderr
