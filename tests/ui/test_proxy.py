"""The proxy configuration `lang-assess serve --instances N` generates, checked by nginx
itself and by reading what it routes where."""

import re
import shutil
import subprocess

import pytest
from support import needs

from lang_assess.ui.proxy import ROUTE_COOKIE, nginx_config

SERVERS = ["127.0.0.1:9101", "127.0.0.1:9102", "127.0.0.1:9103"]


def config(tmp_path, n=3, **kw):
    return nginx_config(SERVERS[:n], ["127.0.0.1:9200"], listen="127.0.0.1", port=9000,
                        teacher_port=9001, prefix=tmp_path, **kw)


def test_nginx_accepts_the_configuration(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    needs("nginx", shutil.which(nginx) is not None)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "tmp" / kind).mkdir(parents=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(config(tmp_path))
    out = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e",
                          str(tmp_path / "error.log")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "syntax is ok" in out.stderr


def test_every_browser_is_routed_by_its_cookie_over_a_consistent_hash(tmp_path):
    text = config(tmp_path)
    block = re.search(r"upstream participants \{(.*?)\}", text, re.S).group(1)
    lines = [line.strip() for line in block.strip().splitlines()]
    assert lines[0] == "hash $route consistent;"  # a page and its websocket meet
    assert [line.split()[1] for line in lines[1:]] == SERVERS
    assert "backup" not in text  # nginx spreads backups round-robin: a page could part
    # a dead server's requests go on along the ring; a busy page (503) is not passed on,
    # or the page would come from one server and its websocket go to another
    assert "proxy_next_upstream error timeout http_502;" in text and "http_503" not in text
    route = re.search(rf"map \$cookie_{ROUTE_COOKIE} \$route \{{\n(.*?)\n    \}}", text,
                      re.S).group(1)
    assert '"~^[0-9a-f]{32}$" $cookie_la_route;' in route  # a known route is kept
    assert "default $request_id;" in route  # anything else gets a fresh random one


def test_the_access_log_never_holds_a_query_string(tmp_path):
    fmt = re.search(r"log_format lang_assess (.*?);", config(tmp_path), re.S).group(1)
    assert "$uri" in fmt
    assert "$request " not in fmt and "$request_uri" not in fmt and "$args" not in fmt


def test_websockets_are_upgraded_and_the_route_cookie_is_strict(tmp_path):
    text = config(tmp_path, cookie_secure=True)
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert text.count(f"{ROUTE_COOKIE}=$route; Path=/; HttpOnly; SameSite=Strict; Secure") == 2
    assert "SameSite=Strict\"" in config(tmp_path)  # not Secure without TLS


def test_no_servers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one participant server"):
        nginx_config([], ["127.0.0.1:1"], listen="127.0.0.1", port=1, teacher_port=2,
                     prefix=tmp_path)
