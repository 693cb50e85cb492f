"""Inputs for ingest: files and folders, URLs, and JSON-lines manifests, each turned into `AssetInput`s.

Paths are checked against the allowed roots (indexer/roots.py) and URLs are downloaded with the guards of
indexer/fetch.py; the bytes are decoded fully later, by the pipeline (indexer/pipeline/ingest.py).
"""

import json
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from pydantic import ValidationError

from indexer.assets import AssetInput, MediaType
from indexer.errors import InvalidInput, MediasearchError
from indexer.media.decoding import media_type_for_path, sha256_bytes
from indexer.pipeline.ingest import IngestOutcome, IngestStatus

if TYPE_CHECKING:
    from indexer.config import Settings


def iter_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
        else:
            files.append(path)
    return files


def file_input(path: Path, owner: str, root: Path | None = None, roots: Sequence[Path] | None = None,
               **metadata: object) -> AssetInput:
    """An asset from a file: its id is the path relative to the folder it was found in. With `roots`, a
    path (or the target of a symlink) outside them is refused (indexer/roots.py)."""
    if roots is not None:
        from indexer.roots import inside_roots

        inside_roots(path, roots)
    rel = path.relative_to(root) if root and path.is_relative_to(root) else Path(path.name)
    data = path.read_bytes()
    title = metadata.pop("title", None) or path.stem.replace("_", " ").replace("-", " ")
    return AssetInput(
        id=rel.as_posix().replace("/", ":"), owner=owner, title=str(title), data=data,
        source=str(path.resolve()), name=str(path), **metadata,  # type: ignore[arg-type]
    )


def url_id(url: str) -> str:
    """An asset id for a URL: host and path, '/' written ':' as for files (long ones shortened by hash)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    ident = ":".join(p for p in f"{parts.netloc}{parts.path}".split("/") if p) + (f"?{parts.query}" if parts.query else "")
    ident = "".join(c for c in ident if ord(c) >= 32) or "url"
    return ident if len(ident) <= 200 else f"{ident[:180]}~{sha256_bytes(url.encode())[:16]}"


# Content-Type -> media type; octet-stream and a missing type leave it to the URL's file name.
_CONTENT_TYPES = {"image": MediaType.image, "video": MediaType.video, "audio": MediaType.audio}
_TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown"}
_UNTYPED = {None, "application/octet-stream", "binary/octet-stream", "application/binary"}


def download(url: str, settings: "Settings") -> tuple[bytes, MediaType, str, str]:
    """A URL's bytes, media type, final URL and file name, downloaded with the guards of indexer/fetch.py
    (no private addresses, bounded size and time). The ingest pipeline then decodes the bytes fully, so a
    file that is not what its Content-Type says is refused there."""
    from indexer.fetch import fetch

    fetched = fetch(
        url, allow=settings.url_allow, limit=settings.max_upload_bytes, media_limit=settings.max_media_bytes,
        timeout=settings.url_timeout, deadline=settings.url_deadline, max_redirects=settings.url_max_redirects,
    )
    kind = fetched.content_type
    name = fetched.filename or (url_id(fetched.url) or "download")
    if kind in _UNTYPED:
        media_type = media_type_for_path(Path(name))
    elif kind in _TEXT_TYPES:
        media_type = MediaType.text
    elif kind.split("/")[0] in _CONTENT_TYPES:  # type: ignore[union-attr]
        media_type = _CONTENT_TYPES[kind.split("/")[0]]  # type: ignore[union-attr]
    else:
        raise InvalidInput(f"{url[:200]} serves {kind}, not an image, video, audio or text file",
                           "link to the file itself, not a web page")
    return fetched.data, media_type, fetched.url, name


def url_input(url: str, owner: str, settings: "Settings", **metadata: object) -> AssetInput:
    """An asset from a URL (see `download`); its id defaults to `url_id(url)`."""
    data, media_type, source, name = download(url, settings)
    metadata.setdefault("id", url_id(url))
    metadata.setdefault("title", PurePosixPath(name).stem.replace("_", " ").replace("-", " "))
    return AssetInput(owner=owner, media_type=media_type, data=data, source=source, name=name,
                      **metadata)  # type: ignore[arg-type]


def manifest_inputs(manifest: Path, settings: "Settings | None" = None,
                    roots: Sequence[Path] | None = None) -> Iterable[AssetInput | IngestOutcome]:
    """One asset per JSON line: id, owner, type, path, url or text, title, description, tags, visibility, ...
    and `annotations`: a list of {name, value, confidence, model, time}, or MediaVerse annotation-service
    responses (indexer/media/annotators/external.py), with `annotations_source` naming the service.

    Relative paths are read relative to the manifest's folder, and every path must lie inside `roots`
    (default: MEDIASEARCH_INGEST_ROOTS from `settings`, else the manifest's folder and the current
    directory). A `url` is downloaded with the guards of indexer/fetch.py. A bad line yields a rejected
    outcome instead of an input, so the batch goes on.
    """
    from indexer.config import Settings
    from indexer.roots import cli_roots, inside_roots

    settings = settings or Settings()
    base = manifest.parent
    if roots is None:
        roots = cli_roots(settings.ingest_roots, [manifest])
    with manifest.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            name = f"{manifest.name}:{number}"
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise InvalidInput(f"{name}: expected a JSON object")
                record = dict(record)
                if "type" in record:
                    record["media_type"] = record.pop("type")
                path = record.pop("path", None)
                url = record.pop("url", None)
                if path is not None and url is not None:
                    raise InvalidInput(f"{name}: give 'path' or 'url', not both")
                if path is not None:
                    file_path = Path(path) if Path(path).is_absolute() else base / path
                    if not file_path.is_file():
                        raise InvalidInput(f"{name}: file not found: {path}", "fix the path in the manifest")
                    try:
                        inside_roots(file_path, roots)
                    except MediasearchError as exc:
                        raise type(exc)(f"{name}: {exc.message}", exc.hint) from None
                    record["data"] = file_path.read_bytes()
                    record.setdefault("source", str(file_path.resolve()))
                    record.setdefault("media_type", str(media_type_for_path(file_path)))
                if url is not None:
                    if not isinstance(url, str):
                        raise InvalidInput(f"{name}: 'url' must be a string")
                    try:
                        data, media_type, source, _ = download(url, settings)
                    except MediasearchError as exc:
                        raise type(exc)(f"{name}: {exc.message}", exc.hint) from None
                    record["data"] = data
                    record.setdefault("source", source)
                    record.setdefault("media_type", str(media_type))
                record.setdefault("name", name)
                if record.get("annotations"):  # ours, or MediaVerse annotation-service responses (D3.2 2.5)
                    from indexer.media.annotators.external import parse_external

                    record["annotations"] = parse_external(record["annotations"], record.pop("annotations_source", None))
                yield AssetInput.model_validate(record)
            except json.JSONDecodeError as exc:
                yield IngestOutcome(f"line {number}", IngestStatus.rejected, f"{name}: not valid JSON ({exc.msg})", name=name)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(x) for x in err["loc"])
                yield IngestOutcome(str(record.get("id", f"line {number}")), IngestStatus.rejected, f"{name}: {where}: {err['msg']}", name=name)
            except MediasearchError as exc:
                yield IngestOutcome(f"line {number}", IngestStatus.rejected, str(exc), name=name)
