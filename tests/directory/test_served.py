"""The directory as `fsapp serve --workers 2` serves it: its own port, bound by the supervisor and
shared by both workers, answering from the database the CLI provisions; off without a secret."""
from __future__ import annotations

import os
import re

from fake_switch.serve_process import ServeProcess

from .conftest import SECRET, DirectoryClient, request_fields

PASSWORD = re.compile(r"SIP password \(shown once\): (\S+)")


def test_two_workers_answer_on_the_one_directory_port(env, cli, wall_clock):
    assert cli("tenant", "add", "acme", "--name", "Acme", "--display-name", "Acme", "--hotline", "4001234567",
               "--seats", "2", "--rate", "10", "--sip-domain", "acme.pbx.example.com").code == 0
    added = cli("seat", "add", "acme", "1001")
    assert added.code == 0, added
    # the seat is valid from now on the wall clock, which is the served processes' clock
    serve_env = {**os.environ, **env, "FSAPP_DIRECTORY_SECRET": SECRET, "FSAPP_LOG_LEVEL": "INFO"}
    serve = ServeProcess(serve_env, "--workers", "2").wait_serving(workers=2)
    try:
        client = DirectoryClient(serve.wait_directory())
        answers = [client.post(request_fields("sip_auth", "1001", "acme.pbx.example.com")) for _ in range(20)]
        assert all(status == 200 and 'name="a1-hash"' in body for status, body, _ in answers)
        assert client.post(request_fields("sip_auth", "1002", "acme.pbx.example.com"))[1].count("not found") == 1
    finally:
        code, output = serve.stop()
    assert code == 0, output
    assert PASSWORD.search(added.out).group(1) not in output  # the password never reaches a log


def test_without_a_secret_the_directory_does_not_listen(sqlite_db, tmp_path):
    env = {**os.environ, "FSAPP_DATA_DIR": str(tmp_path)}
    env.pop("FSAPP_DATABASE_URL", None)
    env.pop("FSAPP_DIRECTORY_SECRET", None)
    serve = ServeProcess(env).wait_serving()
    _, output = serve.stop()
    assert "directory_secret is not set" in output and "SIP directory for FreeSWITCH on" not in output
