"""The seats page shows each seat's SIP registration, read from FreeSWITCH (a fake inbound Event
Socket here); when FreeSWITCH cannot answer, the page still renders, with a note instead of an
error. The dashboard's live figures refresh themselves through a static script (CSP: 'self')."""
from __future__ import annotations

import pytest


@pytest.fixture
def app(app_with_freeswitch):
    return app_with_freeswitch


def test_the_seats_page_shows_registrations_of_the_seats_one_may_see(world, browser, freeswitch):
    freeswitch.register("1001", "acme.example.com", agent="Yealink SIP-T46U", network_ip="192.0.2.7")
    freeswitch.register("2001", "globex.example.com", agent="Globex-Phone/1.0", network_ip="192.0.2.9")
    page = browser("op").get("/seats").get_data(as_text=True)
    assert "Yealink SIP-T46U" in page and "sip:1001@192.0.2.7:5062" in page and "Globex-Phone/1.0" in page
    assert 'id="registrations-note"' not in page
    assert page.count("已注册") == 2
    own = browser("acme_admin").get("/seats").get_data(as_text=True)
    assert "Yealink SIP-T46U" in own and "Globex-Phone" not in own and "192.0.2.9" not in own


def test_an_unresponsive_freeswitch_leaves_a_note_and_the_page_renders(world, browser, freeswitch):
    freeswitch.register("1001", "acme.example.com", agent="Yealink SIP-T46U")
    b = browser("op")
    freeswitch.hold()  # accepts, then never answers: the page waits only its short deadline
    response = b.get("/seats")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    note = page.split('id="registrations-note">')[1].split("</p>")[0]
    assert "秒内没有应答" in note and "no answer" not in note  # said in the page's language
    assert "1001@acme.example.com" in page and "Yealink" not in page
    b.get("/lang/en?next=/")
    english = b.get("/seats").get_data(as_text=True).split('id="registrations-note">')[1].split("</p>")[0]
    assert "no answer from" in english and "秒" not in english
    freeswitch.release()


def test_a_refused_connection_is_said_in_chinese_without_the_systems_english(app, settings):
    from fs_app.inbound_esl import EslError
    from fs_app.registrations import registration_status

    from admin.i18n import error_text

    status = registration_status(settings.replace(inbound_esl_address="127.0.0.1:9", esl_password="x"))
    assert not status.known and status.note.startswith("cannot reach FreeSWITCH's Event Socket at 127.0.0.1:9")
    assert isinstance(status.error, EslError)
    with app.test_request_context():
        assert error_text(status.error) == "无法连接 FreeSWITCH 的事件接口（127.0.0.1:9）"


def test_the_dashboard_refreshes_its_live_figures_with_a_static_script(world, browser):
    b = browser("op")
    page = b.get("/").get_data(as_text=True)
    assert '<script src="/static/live-refresh.js" defer></script>' in page
    assert 'id="live-refresh" data-live-refresh="10"' in page
    assert 'id="live-cards" data-live-region' in page and 'id="live-wrap" data-live-region' in page
    script = b.get("/static/live-refresh.js")
    assert script.status_code == 200 and "javascript" in script.content_type
    assert "data-live-region" in script.get_data(as_text=True)
    assert "script-src 'self'" in b.get("/").headers["Content-Security-Policy"]
