"""The admin's CSV upload is read as a stream by the import (issue 14): a file larger than what
werkzeug keeps in memory (it spools to a temporary file) is imported in chunks, a NUL byte is a
row error in the page's language, and bytes that are not UTF-8 are refused in Chinese."""
import html
import io
import re

from models.lists.tables import DoNotCall


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def test_a_large_upload_with_a_nul_byte_is_imported_row_by_row(world, browser):
    b = browser("acme_admin")
    rows = [f"1380{n:07d},bulk\n" for n in range(30_000)]  # about 600 KB: spooled to disk by werkzeug
    rows[4] = "1380\x000000004,nul\n"  # line 6
    response = b.post("/dnc/import", {"file": (io.BytesIO(("number,reason\n" + "".join(rows)).encode()), "d.csv")},
                      token_from="/dnc", content_type="multipart/form-data")
    page = text(response)
    assert response.status_code == 422 and "<td>6</td>" in page and "NUL 字节" in page
    assert DoNotCall.select().where(DoNotCall.tenant == world.acme).count() >= 29_999


def test_an_upload_that_is_not_utf8_is_refused(world, browser):
    b = browser("acme_admin")
    response = b.post("/dnc/import", {"file": (io.BytesIO(b"\xff\xfenumber\n"), "d.csv")},
                      token_from="/dnc", content_type="multipart/form-data")
    assert response.status_code == 400 and "CSV 文件必须是 UTF-8 编码" in text(response)
