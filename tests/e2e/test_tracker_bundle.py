"""The tracker bundle: built from the source, under its size budget, served at
``/t.js`` with the right headers. No browser needed."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import ROOT, LiveServer, require
from threadline import tracker
from threadline.tracker.routes import routes

SIZE_LIMIT_GZIP = 6144


def load_build() -> ModuleType:
    """``tracker/build.py`` (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("tracker_build", ROOT / "tracker" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = load_build()


def test_committed_bundle_is_built_from_the_source() -> None:
    assert tracker.bundle() == build.build(), "run: python tracker/build.py"


def test_gzipped_size_is_under_6_kb(capsys: pytest.CaptureFixture[str]) -> None:
    size = build.gzip_size(tracker.bundle())
    with capsys.disabled():
        print(f"\nthreadline.js: {len(tracker.bundle())} bytes, {size} bytes gzipped")
    assert size < SIZE_LIMIT_GZIP


def test_build_check_passes() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tracker" / "build.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "up to date" in out.stdout
    assert build.SIZE_LIMIT_GZIP == SIZE_LIMIT_GZIP


def test_versions_agree() -> None:
    """package.json, the source's VERSION and the bundle name one version."""
    pkg = json.loads((ROOT / "tracker" / "package.json").read_text())
    assert build.version() == pkg["version"]
    assert f'VERSION="{pkg["version"]}"'.encode() in tracker.bundle()


def test_bundle_has_no_dependencies_or_modules() -> None:
    text = tracker.bundle().decode()
    assert "import " not in text and "export " not in text and "require(" not in text
    assert text.startswith("/*! threadline.js ")


@pytest.mark.parametrize(
    ("source", "minified"),
    [
        ("var a = b / c; // comment\nvar d = /x\\/[/]y/g.test(e);", "var a=b/c;var d=/x\\/[/]y/g.test(e);"),
        ('var s = "a // not a comment /* nor this */";', 'var s="a // not a comment /* nor this */";'),
        ("x = a + +b - -c; y = a++ + b;", "x=a+ +b- -c;y=a++ +b;"),
        ("if (a) return /re/.test(b);", "if(a)return/re/.test(b);"),
        ("f(a) / 2; arr[0] / 2;", "f(a)/2;arr[0]/2;"),
        ("var n = .5 + 1e3 + 0x1f;", "var n=.5+1e3+0x1f;"),
        ("/* a */ typeof x == 'y' ? 1 : 2;", "typeof x=='y'?1:2;"),
    ],
)
def test_minifier_keeps_meaning(source: str, minified: str) -> None:
    assert build.minify(source) == minified


def test_minifier_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(build.MinifyError):
        build.minify("var t = `template ${x}`;")
    with pytest.raises(build.MinifyError):
        build.minify('var s = "unterminated;\n')


def test_bundle_and_module_parse_in_node(tmp_path: Path) -> None:
    node = shutil.which("node")
    require(node is not None, "node is not installed (the browser tests run the bundle anyway)")
    assert node is not None
    subprocess.run([node, "--check", "-"], input=tracker.bundle(), check=True)
    # The npm-style package: the ES module loads and exports its API.
    script = (f"import({json.dumps((ROOT / 'tracker' / 'src' / 'index.js').as_uri())})"
              ".then(m => console.log(typeof m.createTracker, m.VERSION))")
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["function", build.version()]


def test_route_serves_the_bundle_with_cache_headers() -> None:
    asyncio.run(_route_checks())


async def _route_checks() -> None:
    transport = httpx.ASGITransport(app=Starlette(routes=routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example") as client:
        r = await client.get("/t.js", headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/javascript")
        assert r.content == tracker.bundle()
        assert r.headers["etag"] == tracker.etag()
        assert "max-age=" in r.headers["cache-control"]
        assert r.headers["x-content-type-options"] == "nosniff"

        gz = await client.get("/t.js", headers={"Accept-Encoding": "gzip, br"})
        assert gz.headers["content-encoding"] == "gzip"
        assert gz.content == tracker.bundle()  # httpx inflates
        assert int(gz.headers["content-length"]) == len(tracker.gzipped())
        assert gzip.decompress(tracker.gzipped()) == tracker.bundle()

        again = await client.get("/t.js", headers={"If-None-Match": tracker.etag()})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == tracker.etag()
        other = await client.get("/t.js", headers={"If-None-Match": '"other"'})
        assert other.status_code == 200
        assert (await client.head("/t.js")).status_code == 200


def test_server_serves_the_tracker(live_server: LiveServer) -> None:
    """The real server answers ``GET /t.js`` (api.md: no auth) with the bundle."""
    r = httpx.get(live_server.url + "/t.js", headers={"Origin": "http://site.example"})
    assert r.status_code == 200, "the /t.js route is not mounted in app.py"
    assert r.headers["content-type"].startswith("application/javascript")
    assert r.content == tracker.bundle()
    assert r.headers["etag"] == tracker.etag()
