def test_smoke(world, browser):
    b = browser("op")
    for url in ["/", "/calls", f"/calls/{world.acme_call.id}", "/money?tenant=acme", "/seats", "/numbers", "/campaigns",
                f"/campaigns/{world.globex_campaign.id}", "/consent", "/dnc", "/complaints", "/tenants", "/tenants/acme",
                "/audit", "/account", "/calls/export.csv"]:
        r = b.get(url)
        assert r.status_code == 200, (url, r.get_data(as_text=True)[-3000:])
