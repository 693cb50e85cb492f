"""Reading the collection as the operator (an admin viewer): `search`, `similar`, `facets` and `recommend`."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from api.cli.common import console, open_collection
from indexer.access import ADMIN
from indexer.assets import MediaType
from indexer.errors import InvalidInput
from indexer.media.decoding import load_image


def print_response(collection, response, show_facets: bool = True) -> None:  # noqa: ANN001
    """A search response as tables: one per media type, the unified list, the loose hits (below the
    cut-off, when asked or while the cut-off does not hide), then facets and timings."""
    sections = [*response.lists.items(), ("unified", response.fused)]
    if response.loose:
        sections.append((f"more results: below the relevance cut-off, {response.loose_found} in all", response.loose))
    for name, hits in sections:
        if name != "unified" and not hits:
            continue
        table = Table(title=f"{name} ({len(hits)})", title_justify="left")
        for col in ("#", "id", "type", "title", "score", "why", "moments", "thumbnail"):
            table.add_column(col, overflow="fold")
        for i, h in enumerate(hits, 1):
            why = ", ".join(f"{c}#{v.rank} {v.score:.3g}" for c, v in h.channels.items())
            table.add_row(str(i), h.id + (f" (+{h.duplicates})" if h.duplicates else ""), h.media_type, h.title,
                          f"{h.score:.4f}", why, _moments(h), str(collection.media_root / h.thumbnail) if h.thumbnail else "")
        console.print(table)
    if show_facets and response.facets:
        parts = []
        for field, values in response.facets.items():
            if values:
                parts.append(f"[bold]{field}[/bold]: " + ", ".join(f"{v.value} ({v.count})" for v in values[:6]))
        console.print("\n".join(parts))
    if response.temporal is not None:
        console.print(f"[dim]temporal: a moment, then another within {response.temporal.within:g} s[/dim]")

    counts = ", ".join(f"{t} {n}" for t, n in response.counts.items() if t != "all")
    console.print(f"[bold]{response.found} found[/bold]" + (f" ({counts})" if counts else "")
                  + (f" · {response.loose_found} more below the cut-off (--loose)" if response.loose_found and not response.loose else ""))
    if response.found == 0:
        console.print("No results." + (f" Did you mean: {response.did_you_mean}?" if response.did_you_mean else ""))
    if response.cutoff.note:
        console.print(f"[yellow]cut-off: {response.cutoff.note}[/yellow]")
    degraded = f"  [red]degraded: {'; '.join(response.degraded)}[/red]" if response.degraded else ""
    console.print(f"[dim]{response.took_ms} ms · {response.candidates} candidates · fusion {response.fusion} · "
                  f"encoder {response.encoder}[/dim]{degraded}")
    if response.next_cursor:
        console.print(f"[dim]next page: --cursor {response.next_cursor}[/dim]")


def _moments(hit) -> str:  # noqa: ANN001 - a Hit
    """A video hit's moments: both of a THEN query's (first → then), else its best one."""
    moments = hit.moments or ([hit.segment] if hit.segment else [])
    return " → ".join(f"{m.start:.1f}–{m.end:.1f}s" for m in moments)


def search(
    query: Annotated[Optional[str], typer.Argument(help='Query language: words, "phrases", field:value, -negation, ranges.')] = None,
    image: Annotated[Optional[Path], typer.Option(help="Search by this image.")] = None,
    video: Annotated[Optional[Path], typer.Option(help="Query by video: videos that contain this clip or a copy of it.")] = None,
    copies: Annotated[Optional[Path], typer.Option(help="Reverse image search: where this picture, or a copy, appears.")] = None,
    rerank: Annotated[float, typer.Option(min=0, max=1, help="--video: share of the videos re-ranked frame by frame.")] = 0.3,
    k: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    cursor: Annotated[Optional[str], typer.Option(help="next_cursor of the previous page.")] = None,
    type: Annotated[Optional[list[MediaType]], typer.Option(help="Only this result type (repeatable).")] = None,
    fusion: Annotated[str, typer.Option(help="Per-modality lists: rrf or combination.")] = "rrf",
    diversity: Annotated[Optional[float], typer.Option(min=0, max=1, help="MMR: 0 relevance only .. 1 variety only.")] = None,
    no_thresholds: Annotated[bool, typer.Option("--no-thresholds", help="Keep weak vector matches.")] = False,
    loose: Annotated[bool, typer.Option("--loose", help="Also show the hits below the relevance cut-off.")] = False,
    sort: Annotated[str, typer.Option(help="relevance, date, duration, owner or title (the whole confident set).")] = "relevance",
    order: Annotated[Optional[str], typer.Option(help="asc or desc (default: desc for relevance, date, duration).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full response as JSON.")] = False,
) -> None:
    """Search by text and/or image: per-modality lists, the unified list, and facet counts."""
    from query import SearchRequest
    from query import search as run_search
    from query.fusion import FusionOptions

    if video is not None or copies is not None:
        from api.cli.copies import search_copies_or_video

        search_copies_or_video(query, video, copies, k, rerank, as_json)
        return
    picture = None
    if image is not None:
        if not image.is_file():
            raise InvalidInput(f"no such image file: {image}")
        picture, _ = load_image(image.read_bytes(), str(image))
    if sort not in ("relevance", "date", "duration", "owner", "title"):
        raise InvalidInput(f"unknown sort '{sort}'", "use relevance, date, duration, owner or title")
    if order not in (None, "asc", "desc"):
        raise InvalidInput(f"unknown order '{order}'", "use asc or desc")
    if fusion not in ("rrf", "combination"):
        raise InvalidInput(f"unknown fusion '{fusion}'", "use rrf or combination")
    with open_collection() as collection:
        request = SearchRequest(q=query, k=k, offset=offset, cursor=cursor, media_types=type, diversity=diversity,
                                thresholds=not no_thresholds, fusion=FusionOptions(method=fusion),
                                loose=loose, sort=sort, order=order)  # type: ignore[arg-type]
        response = run_search(collection, request, ADMIN, picture)
    if as_json:
        print(response.model_dump_json(indent=2))
        return
    print_response(collection, response)


def similar(asset_id: str, k: Annotated[int, typer.Option(min=1, max=100)] = 10,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """More like this: assets near a stored asset's vectors."""
    from query import more_like_this

    with open_collection() as collection:
        response = more_like_this(collection, asset_id, ADMIN, k)
    if as_json:
        print(response.model_dump_json(indent=2))
        return
    print_response(collection, response, show_facets=False)


def facets(query: Annotated[str, typer.Argument(help="Query and filters, e.g. 'type:image -label:meme'.")] = "",
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Exact counts per facet value for a query and its filters (the editor's view)."""
    from query.search import facet_only

    with open_collection() as collection:
        counts = facet_only(collection, query, ADMIN)
    if as_json:
        print(json.dumps({f: [v.model_dump() for v in values] for f, values in counts.items()}, indent=2))
        return
    for field, values in counts.items():
        console.print(f"[bold]{field}[/bold]: " + (", ".join(f"{v.value} ({v.count})" for v in values) or "—"))


def recommend(
    user: str,
    k: Annotated[int, typer.Option(min=1, max=500)] = 10,
    d: Annotated[float, typer.Option(min=0, max=1, help="Share of k from an outlier post.")] = 0.2,
    mode: Annotated[str, typer.Option(help="seed (D3.2: two clusters) or proportional (every cluster).")] = "proportional",
    seed: Annotated[Optional[int], typer.Option(help="Random seed, for a reproducible feed.")] = None,
    q: Annotated[str, typer.Option(help="Filters in the query language.")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recommendations for a user from their own posts: the four cross lists, each item with its seed."""
    from recommender.feed import feed

    if mode not in ("seed", "proportional"):
        raise InvalidInput(f"unknown mode '{mode}'", "use seed or proportional")
    with open_collection() as collection:
        response = feed(collection, user, k=k, d=d, mode=mode, seed=seed, q=q)  # type: ignore[arg-type]
    if as_json:
        print(response.model_dump_json(indent=2))
        return
    for source, lists in (("text", response.text), ("image", response.image)):
        if lists is None:
            continue
        for target in ("text", "image"):
            items = getattr(lists, target)
            table = Table(title=f"{source} → {target} ({len(items)})", title_justify="left")
            for col in ("#", "id", "title", "score", "seed", "why"):
                table.add_column(col, overflow="fold")
            for i, item in enumerate(items, 1):
                table.add_row(str(i), item.id, item.title, f"{item.score:.3f}", f"{item.seed.id} ({item.seed.kind})", item.why)
            console.print(table)
    summary = ", ".join(f"{m}: {c.posts} posts, {c.clusters} clusters {c.cluster_sizes}, {c.outliers} outliers"
                        for m, c in response.clusters.items())
    console.print(f"[dim]{'cold start: no posts yet · ' if response.cold_start else ''}{summary} · {response.took_ms} ms[/dim]")
    if response.empty and not response.cold_start:
        console.print(f"[yellow]{response.empty.message}[/yellow]")
    if response.notice:
        console.print(f"[dim]{response.notice}[/dim]")
