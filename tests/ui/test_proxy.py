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


def test_each_route_has_its_server_first_and_the_others_as_backups(tmp_path):
    text = config(tmp_path)
    for k, primary in enumerate(SERVERS, start=1):
        block = re.search(rf"upstream participant_{k} \{{(.*?)\}}", text, re.S).group(1)
        lines = [line.split()[1] for line in block.strip().splitlines()]
        assert lines[0] == primary
        assert sorted(lines[1:]) == sorted(s for s in SERVERS if s != primary)
        assert all("backup" in line for line in block.strip().splitlines()[1:])
    assert "upstream participant_4" not in text


def test_routes_split_evenly_and_unknown_cookies_get_a_new_route(tmp_path):
    text = config(tmp_path)
    shares = re.findall(r"([\d.]+)% (\d+);", text)
    assert [(float(s), int(k)) for s, k in shares] == [(33.33, 1), (33.33, 2)]
    assert "* 3;" in text
    known = re.search(rf"map \$cookie_{ROUTE_COOKIE} \$route \{{(.*?)\}}", text, re.S).group(1)
    assert re.findall(r'"(\d+)" (\d+);', known) == [("1", "1"), ("2", "2"), ("3", "3")]
    assert "default $new_route;" in known


def test_the_access_log_never_holds_a_query_string(tmp_path):
    fmt = re.search(r"log_format lang_assess (.*?);", config(tmp_path), re.S).group(1)
    assert "$uri" in fmt
    assert "$request " not in fmt and "$request_uri" not in fmt and "$args" not in fmt


def test_websockets_are_upgraded_and_the_route_cookie_is_strict(tmp_path):
    text = config(tmp_path, cookie_secure=True)
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert f"{ROUTE_COOKIE}=$route; Path=/; HttpOnly; SameSite=Strict; Secure" in text
    assert "SameSite=Strict\"" in config(tmp_path)  # not Secure without TLS


def test_no_servers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one participant server"):
        nginx_config([], ["127.0.0.1:1"], listen="127.0.0.1", port=1, teacher_port=2,
                     prefix=tmp_path)
