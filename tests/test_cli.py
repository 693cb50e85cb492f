"""The `mediasearch` command line, run in-process with Typer's runner."""

import json

from typer.testing import CliRunner

from api.cli import app
from conftest import png, skimage_png

runner = CliRunner()


def test_ingest_search_status_delete(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "cat.png").write_bytes(skimage_png("chelsea"))
    (folder / "rocket.jpg").write_bytes(png((1, 2, 3)))  # PNG bytes under a .jpg name: still an image
    (folder / "note.md").write_text("Notes about a tabby cat and its toys")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / "archive.zip").write_bytes(b"PK")
    result = runner.invoke(app, ["ingest", str(folder), "--owner", "ana"])
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output and "2 rejected" in result.output
    assert "broken.png" in result.output and "unsupported file type '.zip'" in result.output

    again = runner.invoke(app, ["ingest", str(folder), "--owner", "ana"])
    assert "3 unchanged" in again.output

    result = runner.invoke(app, ["search", "tabby cat", "--json", "--k", "3"])
    assert result.exit_code == 0, result.output
    response = json.loads(result.output)
    assert response["lists"]["image"][0]["id"] == "cat.png"
    assert response["lists"]["text"][0]["id"] == "note.md"

    image_query = tmp_path / "q.png"
    image_query.write_bytes(skimage_png("chelsea"))
    result = runner.invoke(app, ["search", "--image", str(image_query)])
    assert result.exit_code == 0 and "cat.png" in result.output

    status = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert status["assets"] == 3 and status["in_agreement"] and status["encoder"].startswith("bundled:")

    assert runner.invoke(app, ["delete", "note.md"]).exit_code == 0
    missing = runner.invoke(app, ["delete", "note.md"])
    assert missing.exit_code == 2 and "no asset with id" in missing.output


def test_errors_exit_non_zero_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "absent"))
    result = runner.invoke(app, ["search", "cat"])
    assert result.exit_code == 2 and "no mediasearch collection" in result.output
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope.png"), "--owner", "ana"])
    assert result.exit_code == 2 and "no such file" in result.output
    result = runner.invoke(app, ["ingest", str(tmp_path)])
    assert result.exit_code == 2 and "--owner is required" in result.output


def test_demo_ingests_the_bundled_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "demo"))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    result = runner.invoke(app, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "33 added" in result.output  # 16 pictures, 16 texts and the demo video clip
    assert "search 'a cat': image: image-chelsea" in result.output.replace("\n", " ")


def test_query_language_facets_and_similar_on_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIASEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIASEARCH_ENCODER", "bundled")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "cat.png").write_bytes(skimage_png("chelsea"))
    (folder / "coffee.png").write_bytes(skimage_png("coffee"))
    (folder / "note.txt").write_text("a tabby cat asleep on the sofa")
    assert runner.invoke(app, ["ingest", str(folder), "--owner", "ana"]).exit_code == 0

    result = runner.invoke(app, ["search", "cat -label:espresso type:image", "--json"])
    response = json.loads(result.output)
    assert [h["id"] for h in response["fused"]] == ["cat.png"]
    assert response["parsed"]["filters"]["terms"][0]["field"] == "label"

    bad = runner.invoke(app, ["search", "cat lable:dog"])
    assert bad.exit_code == 2 and "unknown field 'lable'" in bad.output and "^^^^^" in bad.output

    counts = json.loads(runner.invoke(app, ["facets", "type:image", "--json"]).output)
    assert {v["value"]: v["count"] for v in counts["type"]} == {"image": 2, "text": 1}
    assert {v["value"]: v["count"] for v in counts["owner"]} == {"ana": 2}

    similar = json.loads(runner.invoke(app, ["similar", "cat.png", "--json"]).output)
    assert "cat.png" not in [h["id"] for h in similar["fused"]]
    assert similar["lists"]["text"][0]["id"] == "note.txt"
