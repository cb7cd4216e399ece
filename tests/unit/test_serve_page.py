"""The dashboard loads nothing from outside the server: every asset it names is one the server serves."""

import re
from importlib import resources

from daemonctl.serve.server import ASSETS, load_assets

STATIC = resources.files("daemonctl.serve") / "static"


def test_every_asset_is_shipped_and_served():
    assets = load_assets()
    assert set(assets) == set(ASSETS)
    for path, (kind, body) in assets.items():
        assert body, path
        assert kind.split(";")[0] in ("text/html", "text/javascript", "text/css", "image/svg+xml")


def test_the_page_names_only_local_assets():
    html = (STATIC / "index.html").read_text()
    refs = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assert refs and all(ref in ASSETS for ref in refs), refs
    assert "://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_script_and_style_reach_nothing_outside():
    js = (STATIC / "app.js").read_text()
    assert re.findall(r"[a-z]+://[^\s\"'`]*", js) == ["http://www.w3.org/2000/svg"]  # a namespace name, never fetched
    assert "eval(" not in js and "innerHTML" not in js  # text goes in as text: a log line is never markup
    css = (STATIC / "style.css").read_text()
    assert "url(" not in css and "@import" not in css
