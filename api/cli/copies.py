"""`mediasearch search --video CLIP` and `--copies PICTURE` (query/video_query.py), and `index-copies`
(fills the copy index of a home made before it; searches fill it on first use too)."""

import json
from pathlib import Path

from rich.table import Table

from api.cli.common import console, open_collection
from indexer.access import ADMIN
from indexer.errors import InvalidInput
from indexer.media.decoding import load_image


def search_copies_or_video(query: str | None, video: Path | None, copies: Path | None, k: int, rerank: float,
                           as_json: bool) -> None:
    from query.language import parse_query
    from query.video_query import search_by_video, search_copies

    if video is not None and copies is not None:
        raise InvalidInput("give --video or --copies, not both", "run one search for each")
    source = video or copies
    assert source is not None
    if not source.is_file():
        raise InvalidInput(f"no such file: {source}")
    filters = parse_query(query or "").filters
    with open_collection() as collection:
        if video is not None:
            response = search_by_video(collection, video, ADMIN, k=k, filters=filters, rerank=rerank)
        else:
            picture, _ = load_image(source.read_bytes(), str(source), collection.settings.max_image_pixels)
            response = search_copies(collection, picture, ADMIN, k=k, filters=filters)
    if as_json:
        print(response.model_dump_json(indent=2))
        return
    table = Table(title=f"{'videos containing' if video else 'copies of'} {source.name} ({len(response.hits)})", title_justify="left")
    for col in ("#", "id", "type", "title", "score", "why", "moment"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(response.hits, 1):
        if video is not None:
            why = f"coarse {h.coarse:.3f}" + (f", chamfer {h.chamfer:.3f}, consistency {h.consistency:.2f}" if h.fine is not None else "")
        else:
            why = f"hash {h.hash_similarity:.3f}, embedding {h.embedding_similarity:.3f}"
        moment = f"{h.segment.start:g}-{h.segment.end:g} s" if h.segment else ""
        table.add_row(str(i), h.id, h.media_type, h.title, f"{h.score:.4f}", why, moment)
    console.print(table)
    console.print(f"[dim]{response.took_ms} ms · {json.dumps(response.timings_ms)}[/dim]")


def index_copies() -> None:
    """Fill the copy index (frame descriptors of videos; hashes of pictures and keyframes) where it lacks rows."""
    from indexer.pipeline.copy_index import backfill, copy_store

    with open_collection() as collection:
        report = backfill(collection)
        pruned = copy_store(collection).prune()
    console.print(f"{report.videos} videos and {report.pictures} pictures indexed, {pruned} stale rows removed "
                  f"in {report.seconds} s" + (f"; skipped: {'; '.join(report.skipped)}" if report.skipped else ""))
