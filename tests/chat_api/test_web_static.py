"""The web UI at `/`: the build when there is one, a page saying how to build it otherwise."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from chat_api.web_static import BUILD_COMMAND, mount_web


def app_with_api(dist: Path) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "healthy"}

    mount_web(app, dist)
    return app


def build(dist: Path) -> None:
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><script src="/assets/app-1a2b.js"></script>')
    (dist / "assets" / "app-1a2b.js").write_text("console.log('ui')")


def test_the_built_ui_is_served_at_the_root_with_its_assets(tmp_path: Path) -> None:
    build(tmp_path)
    with TestClient(app_with_api(tmp_path)) as client:
        index = client.get("/")
        asset = client.get("/assets/app-1a2b.js")
        api = client.get("/health")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    assert "/assets/app-1a2b.js" in index.text
    assert asset.status_code == 200
    assert asset.text == "console.log('ui')"
    assert api.json() == {"status": "healthy"}


def test_without_a_build_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    with TestClient(app_with_api(tmp_path / "dist")) as client:
        page = client.get("/")
        asset = client.get("/assets/app.js")
    assert page.status_code == 200
    assert "not built" in page.text
    assert BUILD_COMMAND in page.text
    assert asset.status_code == 404


def test_a_build_made_while_the_service_runs_is_served_without_a_restart(tmp_path: Path) -> None:
    with TestClient(app_with_api(tmp_path)) as client:
        assert "not built" in client.get("/").text
        build(tmp_path)
        assert "/assets/app-1a2b.js" in client.get("/").text
        assert client.get("/assets/app-1a2b.js").status_code == 200


def test_assets_cannot_reach_outside_the_build(tmp_path: Path) -> None:
    build(tmp_path / "dist")
    (tmp_path / "secret.txt").write_text("no")
    with TestClient(app_with_api(tmp_path / "dist")) as client:
        assert client.get("/assets/../../secret.txt").status_code == 404
        assert client.get("/assets/%2e%2e/%2e%2e/secret.txt").status_code == 404


def test_mounting_twice_changes_nothing(tmp_path: Path) -> None:
    build(tmp_path)
    app = app_with_api(tmp_path)
    routes = len(app.routes)
    mount_web(app, tmp_path)
    assert len(app.routes) == routes


def test_the_ui_stays_out_of_the_api_schema(tmp_path: Path) -> None:
    with TestClient(app_with_api(tmp_path)) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/health"}
