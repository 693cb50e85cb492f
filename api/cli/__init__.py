"""The `mediasearch` command line."""

import json
from typing import Annotated

import typer
from rich.table import Table

from indexer.config import Settings
from indexer.errors import MediasearchError
from api.cli import adapter, evaluate, ingest, maintenance, search
from api.cli.common import ReportedGroup, console, err, quiet_libraries

app = typer.Typer(help="mediasearch: search the images and texts of a media platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=ReportedGroup)


def _open(create: bool = False, allow_encoder_change: bool = False):  # noqa: ANN202
    from indexer.collection import Collection

    quiet_libraries()
    settings = Settings.from_env()
    with console.status("Loading models…"):
        return Collection.open(settings, create=create, allow_encoder_change=allow_encoder_change)


def _run(fn) -> None:  # noqa: ANN001
    try:
        fn()
    except MediasearchError as exc:
        err.print(f"[red]error:[/red] {exc.message}" + (f" [dim]({exc.hint})[/dim]" if exc.hint else ""))
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: every asset reported as stored is complete; run the command again to continue")
        raise typer.Exit(130) from None


keys_app = typer.Typer(help="API keys: who may read, post and administer (stored hashed in the catalog).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _key_store():  # noqa: ANN202
    """The key table, without loading any model."""
    from indexer.collection import CATALOG_FILE
    from indexer.errors import ConfigurationError
    from indexer.stores.catalog import Catalog
    from indexer.stores.keys import KeyStore

    settings = Settings.from_env()
    path = settings.home / CATALOG_FILE
    if not path.is_file():
        raise ConfigurationError(f"no collection at {settings.home}", "ingest something first, or set MEDIASEARCH_HOME")
    return KeyStore(Catalog(path))


@keys_app.command("create")
def keys_create(
    username: Annotated[str, typer.Argument(help="The user the key acts as (the owner of what it posts).")],
    role: Annotated[str, typer.Option(help="reader, contributor or admin.")] = "reader",
    name: Annotated[str, typer.Option(help="A note to tell keys apart, e.g. 'mobile app'.")] = "",
) -> None:
    """Make a key and print it once; only its hash is stored. The first key turns on key checking."""

    def go() -> None:
        from indexer.access import Role
        from indexer.errors import InvalidInput

        if role not in Role.__members__:
            raise InvalidInput(f"unknown role '{role}'", "use reader, contributor or admin")
        store = _key_store()
        first = not store.ever_made()
        record, key = store.create(username, Role(role), name)
        console.print(f"key {record.id} for [bold]{record.username}[/bold] ({record.role.value}); it is shown only now:")
        print(key)
        if first:
            err.print("[yellow]API keys are now required[/yellow]: requests without a key get 401 "
                      "(set MEDIASEARCH_ANONYMOUS=true to let them read public assets)")

    _run(go)


@keys_app.command("list")
def keys_list(revoked: Annotated[bool, typer.Option(help="Include revoked keys.")] = False,
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every key's id, user, role and dates (never the key itself)."""

    def go() -> None:
        records = _key_store().list(include_revoked=revoked)
        if as_json:
            print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
            return
        table = Table("id", "user", "role", "name", "created", "last used", "revoked")
        for r in records:
            table.add_row(r.id, r.username, r.role.value, r.name, r.created_at, r.last_used_at or "", r.revoked_at or "")
        console.print(table)

    _run(go)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`), or the key itself.")]) -> None:
    """Revoke a key at once; it can never be used again. Key checking stays on."""

    def go() -> None:
        record = _key_store().revoke(key_id)
        console.print(f"revoked {record.id} ({record.username}, {record.role.value}) at {record.revoked_at}")

    _run(go)


for command in (ingest.ingest, ingest.delete, ingest.demo,  # api/cli/ingest.py
                search.search, search.similar, search.facets, search.recommend,  # api/cli/search.py
                maintenance.status, maintenance.check, maintenance.repair, maintenance.reindex,  # api/cli/maintenance.py
                maintenance.serve, maintenance.backup, maintenance.restore, maintenance.propagate,
                adapter.train_adapter,  # api/cli/adapter.py
                evaluate.calibrate):  # api/cli/evaluate.py
    app.command()(command)
app.add_typer(evaluate.eval_app, name="eval")


def main() -> None:
    app()

