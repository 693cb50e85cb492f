"""`mediasearch migrate --to postgresql://...`: move an embedded home's catalog into PostgreSQL (cluster mode)."""

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.common import console
from indexer.config import Settings


def migrate(
    to: Annotated[str, typer.Option("--to", help="The empty PostgreSQL database: postgresql://user@host:port/db.")],
    batch: Annotated[int, typer.Option(help="Rows per insert batch.", min=1)] = 1000,
) -> None:
    """Copy this home's SQLite catalog (every table, every id kept) into an EMPTY PostgreSQL database, in
    one transaction. Media files and the FAISS and tantivy caches stay in the home; afterwards run the
    home with MEDIASEARCH_DATABASE_URL set to the same URL (see docs/deploy.md)."""
    from indexer.pipeline.migrate import migrate as run_migrate

    settings = Settings.from_env()
    with Progress(TextColumn("[bold]{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        tasks: dict[str, int] = {}

        def show(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=total)
            progress.update(tasks[table], completed=done)

        report = run_migrate(settings, to, show, batch=batch)
    console.print(f"migrated {report.rows} rows of {len(report.tables)} tables into {report.target} "
                  f"in {report.seconds:.1f} s (one transaction)")
    console.print("next: set MEDIASEARCH_DATABASE_URL to the same URL and run `mediasearch check` (docs/deploy.md)")
