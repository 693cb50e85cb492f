"""Putting assets in and taking them out: `ingest`, `delete`, and `demo` (the bundled sample, ingested
and served)."""

from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.common import console, open_collection
from indexer.access import ADMIN
from indexer.assets import Visibility
from indexer.errors import InvalidInput, MediasearchError
from indexer.media.decoding import load_image
from indexer.roots import cli_roots


def ingest_items(collection, items, total: int | None) -> list:  # noqa: ANN001
    """Ingest under a progress bar; items may be outcomes already (files rejected before ingest)."""
    from indexer.pipeline.ingest import IngestOutcome, IngestStatus, ingest

    outcomes: list[IngestOutcome] = []
    with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console) as progress:
        task = progress.add_task("", total=total)

        def done(outcome: IngestOutcome) -> None:
            progress.update(task, advance=1, description=outcome.name or outcome.id)
            if outcome.status == IngestStatus.rejected:
                progress.console.print(f"[red]rejected[/red] {outcome.name or outcome.id}: {outcome.reason}")

        ready = []
        for item in items:
            if isinstance(item, IngestOutcome):
                outcomes.append(item)
                done(item)
            else:
                ready.append(item)
        outcomes += ingest(collection, ready, on_done=done)
    return outcomes


def print_summary(outcomes: list) -> None:  # noqa: ANN001
    counts = Counter(o.status.value for o in outcomes)
    console.print(
        f"[green]{counts.get('added', 0)} added[/green], {counts.get('updated', 0)} updated, "
        f"{counts.get('unchanged', 0)} unchanged, [red]{counts.get('rejected', 0)} rejected[/red]"
    )


def ingest(
    sources: Annotated[Optional[list[str]], typer.Argument(
        metavar="PATHS_OR_URLS", help="Files, folders or http(s) URLs (images, videos, audio, txt, md).")] = None,
    owner: Annotated[Optional[str], typer.Option(help="Username that owns the assets.")] = None,
    manifest: Annotated[Optional[Path], typer.Option(help="JSON lines: id, owner, type, path, url or text, title, ...")] = None,
    visibility: Visibility = Visibility.public,
    tags: Annotated[str, typer.Option(help="Comma-separated tags for every file.")] = "",
    captions: Annotated[Optional[Path], typer.Option(help="CSV with columns image, caption: a file's captions become its description, one a line.")] = None,
) -> None:
    """Add files, folders, URLs or a manifest to the collection. Files must lie under the given folders or
    the current directory (or MEDIASEARCH_INGEST_ROOTS); URLs to private addresses are refused unless
    MEDIASEARCH_URL_ALLOW allows them."""
    from indexer.pipeline.adapters.data import read_captions
    from indexer.assets import AssetInput
    from indexer.pipeline.ingest import IngestOutcome, IngestStatus
    from indexer.pipeline.inputs import file_input, iter_files, manifest_inputs, url_input

    urls = [s for s in sources or [] if s.lower().startswith(("http://", "https://"))]
    paths = [Path(s) for s in sources or [] if s not in urls]
    if not paths and not urls and manifest is None:
        raise InvalidInput("nothing to ingest", "give files or folders, or --manifest FILE.jsonl")
    if (paths or urls) and not owner:
        raise InvalidInput("--owner is required with files and URLs", "e.g. --owner ana")
    for path in paths or []:
        if not path.exists():
            raise InvalidInput(f"no such file or folder: {path}")
    with open_collection(create=True) as collection:
        settings = collection.settings
        roots = cli_roots(settings.ingest_roots, paths)
        items: list[AssetInput | IngestOutcome] = []
        tag_list = [t for t in tags.split(",") if t.strip()]
        by_name = read_captions(captions) if captions is not None else {}
        for root in paths:
            base = root if root.is_dir() else root.parent
            for file in iter_files([root]):
                try:
                    items.append(file_input(file, owner, base, roots, visibility=visibility, tags=tag_list,
                                            description="\n".join(by_name.get(file.name, []))))
                except OSError as exc:
                    items.append(IngestOutcome(file.name, IngestStatus.rejected, f"cannot read {file}: {exc.strerror}", name=str(file)))
                except MediasearchError as exc:
                    items.append(IngestOutcome(file.name, IngestStatus.rejected, str(exc), name=str(file)))
        for url in urls:
            try:
                items.append(url_input(url, owner, settings, visibility=visibility, tags=tag_list))
            except MediasearchError as exc:
                items.append(IngestOutcome(url, IngestStatus.rejected, str(exc), name=url))
        if manifest is not None:
            if not manifest.is_file():
                raise InvalidInput(f"manifest not found: {manifest}")
            items.extend(manifest_inputs(manifest, settings))
        outcomes = ingest_items(collection, items, len(items))
    print_summary(outcomes)
    if any(o.status.value == "rejected" for o in outcomes) and not any(o.status.value != "rejected" for o in outcomes):
        raise typer.Exit(1)


def delete(asset_id: str) -> None:
    """Delete an asset from every store."""
    from indexer.pipeline.edits import delete_asset

    with open_collection() as collection:
        delete_asset(collection, asset_id, ADMIN)  # the operator on the command line
    console.print(f"deleted {asset_id}")


def demo(
    data: Annotated[Optional[Path], typer.Option(help="Ingest this folder instead of the bundled sample.")] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Ingest and run two example searches, then stop.")] = False,
) -> None:
    """Ingest the bundled sample (or --data FOLDER) and serve the web page."""
    import uvicorn

    from api.app import create_app
    from api.sample import write_sample
    from indexer.pipeline.inputs import file_input, iter_files, manifest_inputs
    from query import SearchRequest
    from query import search as run_search

    with open_collection(create=True) as collection:
        console.print(f"encoder {collection.encoder.id} [dim]({collection.encoder_reason})[/dim]")
        if data is None:
            manifest = write_sample(collection.home / "sample")
            items = list(manifest_inputs(manifest))
            probe_image = collection.home / "sample" / "chelsea.png"
        else:
            if not data.is_dir():
                raise InvalidInput(f"--data must be a folder: {data}")
            files = iter_files([data])
            items = [file_input(f, "demo", data) for f in files]
            probe_image = next((f for f in files if f.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}), None)
        print_summary(ingest_items(collection, items, len(items)))
        for text in ("a cat", "rocket launch"):
            r = run_search(collection, SearchRequest(q=text, k=3), ADMIN)
            console.print(f"search {text!r}: " + "; ".join(f"{m}: {', '.join(h.id for h in hits)}" for m, hits in r.lists.items()))
        if probe_image is not None:
            picture, _ = load_image(probe_image.read_bytes(), str(probe_image))
            r = run_search(collection, SearchRequest(k=3), ADMIN, picture)
            console.print(f"search by image {probe_image.name}: " + "; ".join(f"{m}: {', '.join(h.id for h in hits)}" for m, hits in r.lists.items()))
        collection.flush()
        if no_serve:
            return
        console.print(f"\n[bold green]Open http://{host}:{port}/[/bold green]  (API docs: http://{host}:{port}/docs; Ctrl-C stops)")
        # The app's lifespan closes the collection when the server stops (and the block's end, once more, harmlessly).
        uvicorn.run(create_app(collection=collection), host=host, port=port, log_level="warning")
