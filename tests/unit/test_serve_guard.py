"""serve's guards: the Host header against DNS rebinding, the Origin of changes, the bearer token."""

import pytest

from daemonctl.serve.guard import check_host, check_origin, check_token, split_host

NAMES = frozenset({"myhost"})


@pytest.mark.parametrize("value, expected", [
    ("localhost", ("localhost", None)),
    ("127.0.0.1:9001", ("127.0.0.1", "9001")),
    ("[::1]:9001", ("::1", "9001")),
    ("[::1]", ("::1", None)),
    ("Example.COM.", ("example.com", None)),
])
def test_split_host(value, expected):
    assert split_host(value) == expected


@pytest.mark.parametrize("value", ["", ":80", "[::1", "[::1]x", "host:port", "a:80:"])
def test_split_host_malformed(value):
    with pytest.raises(ValueError):
        split_host(value)


@pytest.mark.parametrize("host", ["localhost", "localhost:1", "127.0.0.1", "10.1.2.3:9001", "[::1]:80",
                                  "app.localhost", "myhost", "MYHOST:9001"])
def test_hosts_a_browser_reaches_us_by(host):
    assert check_host([host], NAMES) is None


@pytest.mark.parametrize("host", ["evil.example", "evil.example:9001", "localhost.evil.example", "127.0.0.1.nip.io",
                                  "myhost.evil.example"])
def test_names_of_others_are_refused_403(host):
    refusal = check_host([host], NAMES)
    assert refusal is not None and refusal.status == 403


@pytest.mark.parametrize("values", [[], ["localhost", "localhost"], ["bad host:x"]])
def test_no_host_two_hosts_or_a_malformed_one_is_400(values):
    refusal = check_host(values, NAMES)
    assert refusal is not None and refusal.status == 400


@pytest.mark.parametrize("origin, site", [
    (None, None),  # curl, scripts: no browser, no CSRF
    ("http://127.0.0.1:9001", None),
    ("http://127.0.0.1:9001", "same-origin"),
    (None, "none"),  # typed into the address bar
])
def test_changes_from_the_page_itself_or_no_browser(origin, site):
    assert check_origin(origin, site, "127.0.0.1:9001") is None


@pytest.mark.parametrize("origin, site", [
    ("http://evil.example", None),
    ("null", None),
    ("http://127.0.0.1:9002", None),
    ("file://", None),
    (None, "cross-site"),
    (None, "same-site"),
    ("http://127.0.0.1:9001", "cross-site"),
])
def test_changes_from_elsewhere_are_refused(origin, site):
    refusal = check_origin(origin, site, "127.0.0.1:9001")
    assert refusal is not None and refusal.status == 403


def test_token():
    token = b"s3cret-token-of-enough-length"
    assert check_token(None, None) is None  # the unix socket without --token-file: no token asked
    assert check_token("Bearer s3cret-token-of-enough-length", token) is None
    assert check_token("bearer  s3cret-token-of-enough-length ", token) is None
    for header in (None, "", "Bearer", "Bearer wrong", "Basic s3cret-token-of-enough-length",
                   "Bearer s3cret-token-of-enough-lengthX", "Bearer \udcff"):
        refusal = check_token(header, token)
        assert refusal is not None and refusal.status == 401, header
