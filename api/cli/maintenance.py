"""Running and looking after a collection: `status`, `check`, `repair`, `reindex`, `serve`, `backup`,
`restore`, and `propagate` (annotations proposed from neighbours, accepted or rejected by an editor)."""

import json
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli.common import console, err, open_collection, quiet_libraries
from indexer.access import ADMIN
from indexer.config import Settings
from indexer.errors import InvalidInput


def print_cluster(cluster: dict) -> None:
    """This node in cluster mode: the OpenSearch cluster's health, the vector-log lag, the outbox backlog."""
    colour = {"green": "green", "yellow": "yellow"}
    os_health = cluster["opensearch"]
    if os_health is not None:
        c = colour.get(os_health["status"], "red")
        console.print(f"cluster   OpenSearch [{c}]{os_health['status']}[/{c}], {os_health['nodes']} nodes "
                      f"({os_health['data_nodes']} data)" + (f", {os_health['unassigned_shards']} unassigned shards"
                                                            if os_health.get("unassigned_shards") else "")
                      + (f"  [red]{os_health['error']}[/red]" if os_health["error"] else ""))
    lag = ", ".join(f"{space} {v['lag']}" + (f" ({v['pending']} to replay)" if v["pending"] else "")
                    for space, v in cluster["vector_lag"].items())
    console.print(f"lag       vector log seq {max((v['catalog_seq'] for v in cluster['vector_lag'].values()), default=0)}; "
                  f"behind per index: {lag}")
    saved = ", ".join(f"{space} {v['saved_pending']}" for space, v in cluster["vector_lag"].items()
                      if v["saved_pending"] is not None)
    if saved:
        console.print(f"          saved in the home, entries to replay: {saved}")
    console.print(f"outbox    {cluster['outbox']['backlog']} entries not yet applied to {cluster['outbox']['store']}")


def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the active encoder and the size and agreement of every store."""
    from query.cutoff import describe
    from query.profile import is_stored, load_profile

    with open_collection() as collection:
        info = collection.status()
        profile, source = load_profile(collection.catalog, collection.encoder.id)
        cutoff = describe(profile, (profile.calibrations if profile else ()), stored=is_stored(source))
        info["ranking"] = {"profile": source, **cutoff.model_dump()}
    if as_json:
        print(json.dumps(info, indent=2))
        return
    console.print(f"home      {info['home']}")
    console.print(f"catalog   {info['catalog']['backend']} {info['catalog']['where']}")
    console.print(f"encoder   {info['encoder']}  [dim]({info['encoder_reason']})[/dim]")
    console.print(f"sentences {info['sentence_encoder']}")
    console.print(f"assets    {info['assets']} {info['assets_by_type']}, distinct contents {info['contents']}")
    console.print(f"device    {info['device']}  [dim](MEDIASEARCH_DEVICE: models and exact rescoring)[/dim]")
    table = Table("space", "catalog vectors", "index vectors", "faiss factory", "faiss device")
    for space, s in info["spaces"].items():
        table.add_row(space, str(s["vectors_in_catalog"]), str(s["vectors_in_index"]),
                      s["effective_factory"] + ("" if s["effective_factory"] == s["factory"] else f" (→ {s['factory']})")
                      + (f", nprobe {s['nprobe']}" if s.get("nprobe") else ""),
                      f"{s['device']} [dim]({s['device_reason']})[/dim]")
    console.print(table)
    lex = info["lexical"]
    console.print(f"lexical   {lex['store']} {lex['where']}")
    console.print(f"          health {lex['health']}, index {lex['index']}")
    console.print(f"          {lex['documents']} documents for {lex['catalog_assets']} catalog assets, "
                  f"outbox backlog {lex['backlog']}" + ("" if lex["in_agreement"] else "  [red]out of step[/red]"))
    if lex["error"]:
        console.print(f"          [red]{lex['error']}[/red]")
    print_cluster(info["cluster"])
    ad = info.get("adapter") or {}
    if ad.get("active"):
        m = ad["active_meta"]
        console.print(f"adapter   {ad['active']} ({m['kind']}, {m['n_train']} pictures, {m['trained_at'][:10]}): "
                      f"held-out R@10 {m['without']['R@10']:.3f} → {m['fused']['R@10']:.3f} fused")
    else:
        console.print("adapter   none active" + (f" (latest {ad['latest']}: {ad['latest_reason']})" if ad.get("latest") else ""))
    if ad.get("training"):
        console.print("          [yellow]training in the background[/yellow]")
    if ad.get("advice"):
        console.print(f"          [yellow]{ad['advice']}[/yellow]")
    rk = info["ranking"]
    console.print(f"ranking   {rk['profile']}")
    console.print(f"          cut-off {'measured' if rk['measured'] else '[yellow]NOT measured[/yellow]'}, "
                  f"{'hides weak matches' if rk['hides'] else 'separates weak matches, hides none'}"
                  + (f": [yellow]{rk['note']}[/yellow]" if rk["note"] else ""))
    console.print("stores agree" if info["in_agreement"] else "[red]stores disagree[/red]")


def check(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Compare every vector index and the lexical store with the catalog; exit 1 when they disagree."""
    from indexer.pipeline.check import check as run_check

    with open_collection() as collection:
        report = run_check(collection)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for store, r in report.items():
            if store == "in_agreement":
                continue
            state = "[green]ok[/green]" if r["in_agreement"] else "[red]disagrees[/red]"
            console.print(f"{store:22} catalog {r['catalog']:>7}  store {r['store']:>7}  {state}"
                          + (f"  missing {r['missing']}" if r["missing"] else "") + (f"  extra {r['extra']}" if r["extra"] else ""))
        console.print("every store agrees with the catalog" if report["in_agreement"]
                      else "[red]run `mediasearch repair` to rebuild what disagrees[/red]")
    if not report["in_agreement"]:
        raise typer.Exit(1)


def repair() -> None:
    """Rebuild, from the catalog, every vector index and lexical store that disagrees with it."""
    from indexer.pipeline.check import repair as run_repair

    with open_collection() as collection:
        done = run_repair(collection)
    console.print("\n".join(done) if done else "nothing to repair: every store agrees with the catalog")


def reindex(
    lexical_only: Annotated[bool, typer.Option("--lexical-only", help="Only rebuild the lexical index (no re-encoding).")] = False,
) -> None:
    """Re-encode every asset with the active encoder, rebuild the vector indexes and the lexical index
    (OpenSearch: a new index version, swapped in behind the alias while searches go on)."""
    from indexer.pipeline.reindex import reindex as run_reindex
    from indexer.pipeline.reindex import reindex_lexical

    with open_collection(allow_encoder_change=True) as collection:
        if not lexical_only:
            with Progress(TextColumn("[bold]reindex"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
                task = progress.add_task("", total=None)
                count = run_reindex(collection, lambda done, total: progress.update(task, completed=done, total=total))
            console.print(f"re-encoded {count} contents with {collection.encoder.id}")
        from indexer.pipeline.canvas import add_missing_canvas

        with Progress(TextColumn("[bold]canvas"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("", total=None)
            added = add_missing_canvas(collection, lambda n, total: progress.update(task, completed=n, total=total))
        if added:
            console.print(f"canvas tokens added to {added} pictures and videos ingested before the canvas")
        with Progress(TextColumn("[bold]lexical"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("", total=None)
            done = reindex_lexical(collection, lambda n, total: progress.update(task, completed=n, total=total))
    deleted = f", deleted {', '.join(done['deleted'])}" if done["deleted"] else ""
    console.print(f"lexical index rebuilt: {done['documents']} documents in {done['store']} {done['index']}{deleted}")


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes, each with its own copy of the models and "
                                                            "indexes; writes from one are searchable in all.")] = 1,
) -> None:
    """Serve the REST API and the web page. GET /ready answers 200 once the collection is open;
    SIGTERM finishes the requests and writes in flight, then saves the indexes (see docs/deploy.md)."""
    import uvicorn

    from api.ops import configure_logging, prepare_multiprocess_metrics

    quiet_libraries()
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    metrics_dir = prepare_multiprocess_metrics(workers)
    console.print(f"mediasearch on [bold]http://{host}:{port}/[/bold]  (API docs: http://{host}:{port}/docs, "
                  f"readiness: /ready, metrics: /metrics)  {workers} worker{'s' if workers > 1 else ''}, "
                  f"home {settings.home.resolve()}")
    try:
        # Each worker imports api.serve and builds its app there (api/serve.py).
        uvicorn.run("api.serve:serve_app", factory=True, host=host, port=port, workers=workers, log_config=None,
                    log_level="warning", access_log=False, timeout_worker_healthcheck=60)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def backup(dest: Annotated[Path, typer.Argument(help="A new or empty folder.")]) -> None:
    """Snapshot every store into DEST while the service may be running: the catalog (SQLite online
    backup, or pg_dump of a PostgreSQL catalog), the media files it references, the adapters, the FAISS
    indexes, and a manifest with checksums."""
    from indexer.pipeline.backup import backup as run_backup

    settings = Settings.from_env()
    with Progress(TextColumn("[bold]backup"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("", total=None)
        manifest = run_backup(settings, dest, lambda n, total: progress.update(task, completed=n, total=total))
    counts = manifest["counts"]
    console.print(f"backed up {counts['assets']} assets, {counts['contents']} contents, "  # type: ignore[index]
                  f"{len(manifest['files'])} files to {dest} in {manifest['seconds']} s")  # type: ignore[arg-type]
    if manifest["missing_files"]:
        err.print(f"[yellow]{len(manifest['missing_files'])} referenced file(s) were missing from the home[/yellow] "  # type: ignore[arg-type]
                  "(see missing_files in manifest.json; `mediasearch check` on the source)")


def restore(
    src: Annotated[Path, typer.Argument(help="A folder written by `mediasearch backup`.")],
    home: Annotated[Optional[Path], typer.Option(help="Where to restore (default: MEDIASEARCH_HOME).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the collection already in the home.")] = False,
) -> None:
    """Restore a backup into an empty home (a PostgreSQL catalog's backup: into the empty database or
    schema MEDIASEARCH_DATABASE_URL names), verify it like `mediasearch check`, and rebuild the
    OpenSearch index from the catalog when one is configured."""
    from indexer.pipeline.backup import restore as run_restore
    from indexer.pipeline.check import check as run_check
    from indexer.pipeline.reindex import reindex_lexical

    quiet_libraries()
    settings = Settings.from_env(home=home)
    manifest = run_restore(src, settings.home, force=force, database_url=settings.database_url,
                           media_root=settings.media_root)
    console.print(f"restored {manifest['counts']['assets']} assets from {src} (taken {manifest['created_at']})")  # type: ignore[index]
    with console.status("Loading models and checking the stores…"), open_collection(settings, loading=None) as collection:
        if collection.lexical_sync is not None and collection.lexical.name != "tantivy":  # tantivy: built on open
            done = reindex_lexical(collection)
            console.print(f"lexical index rebuilt: {done['documents']} documents in {done['store']} {done['index']}")
        report = run_check(collection)
        collection.flush()
    if not report["in_agreement"]:
        err.print("[red]the restored stores disagree with the catalog[/red]: run `mediasearch repair`")
        raise typer.Exit(1)
    console.print("every store agrees with the catalog")


def propagate(
    ids: Annotated[Optional[list[int]], typer.Argument(help="Proposal ids, with --accept or --reject.")] = None,
    accept: Annotated[bool, typer.Option("--accept", help="Store these proposals on their assets.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Drop these proposals.")] = False,
    asset: Annotated[Optional[list[str]], typer.Option(help="Only propose for this asset (repeatable).")] = None,
    k: Annotated[int, typer.Option(min=1, max=100, help="Neighbours to look at per asset.")] = 5,
    min_similarity: Annotated[float, typer.Option(min=0.0, max=1.0, help="Cosine similarity a neighbour needs.")] = 0.75,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Propose annotations for assets that lack them, from their nearest annotated neighbours
    (near-duplicates first); accept or reject them by id."""
    from indexer.pipeline.propagate import decide, propose

    if accept and reject:
        raise InvalidInput("give --accept or --reject, not both")
    if (accept or reject) != bool(ids):
        raise InvalidInput("proposal ids go with --accept or --reject", "e.g. mediasearch propagate --accept 3 4")
    if accept or reject:
        with open_collection() as collection:
            done = decide(collection, ids or [], accept=accept, viewer=ADMIN)
        for p in done:
            console.print(f"{p.status} #{p.id}: {p.target} {p.name}={p.value!r} (from {p.source})")
        return
    with open_collection() as collection, console.status("finding neighbours…"):
        found = propose(collection, k=k, min_similarity=min_similarity, asset_ids=asset)
    if as_json:
        print(json.dumps([{**p.__dict__, "time": p.time.model_dump() if p.time else None} for p in found], indent=2))
        return
    table = Table(title=f"{len(found)} open proposals (accept with: mediasearch propagate --accept ID...)", title_justify="left")
    for column in ("id", "asset", "annotation", "confidence", "from", "kind", "similarity"):
        table.add_column(column, overflow="fold")
    for p in found:
        when = f" @{p.time.start:g}-{p.time.end:g}s" if p.time else ""
        table.add_row(str(p.id), p.target, f"{p.name}: {p.value}{when}", f"{p.confidence:.3f}", p.source, p.kind,
                      f"{p.similarity:.3f}")
    console.print(table)
