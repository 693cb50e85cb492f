"""`keys create|list|revoke`: API keys, read and written in the catalog without loading any model."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.common import console, err
from indexer.access import Role
from indexer.config import Settings
from indexer.errors import ConfigurationError, InvalidInput

if TYPE_CHECKING:
    from indexer.stores.keys import KeyStore

keys_app = typer.Typer(help="API keys: who may read, post and administer (stored hashed in the catalog).",
                       no_args_is_help=True)


@contextmanager
def open_key_store() -> Iterator["KeyStore"]:
    """The key table of the collection in MEDIASEARCH_HOME; its catalog closed after the block."""
    from indexer.collection import CATALOG_FILE
    from indexer.stores.catalog import Catalog
    from indexer.stores.keys import KeyStore

    settings = Settings.from_env()
    path = settings.home / CATALOG_FILE
    if not settings.database_url and not path.is_file():
        raise ConfigurationError(f"no collection at {settings.home}", "ingest something first, or set MEDIASEARCH_HOME")
    catalog = Catalog(path, settings.database_url)  # a PostgreSQL catalog with MEDIASEARCH_DATABASE_URL
    try:
        yield KeyStore(catalog)
    finally:
        catalog.close()


@keys_app.command("create")
def keys_create(
    username: Annotated[str, typer.Argument(help="The user the key acts as (the owner of what it posts).")],
    role: Annotated[str, typer.Option(help="reader, contributor or admin.")] = "reader",
    name: Annotated[str, typer.Option(help="A note to tell keys apart, e.g. 'mobile app'.")] = "",
) -> None:
    """Make a key and print it once; only its hash is stored. The first key turns on key checking."""
    if role not in Role.__members__:
        raise InvalidInput(f"unknown role '{role}'", "use reader, contributor or admin")
    with open_key_store() as store:
        first = not store.ever_made()
        record, key = store.create(username, Role(role), name)
    console.print(f"key {record.id} for [bold]{record.username}[/bold] ({record.role.value}); it is shown only now:")
    print(key)
    if first:
        err.print("[yellow]API keys are now required[/yellow]: requests without a key get 401 "
                  "(set MEDIASEARCH_ANONYMOUS=true to let them read public assets)")


@keys_app.command("list")
def keys_list(revoked: Annotated[bool, typer.Option(help="Include revoked keys.")] = False,
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every key's id, user, role and dates (never the key itself)."""
    with open_key_store() as store:
        records = store.list(include_revoked=revoked)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return
    table = Table("id", "user", "role", "name", "created", "last used", "revoked")
    for r in records:
        table.add_row(r.id, r.username, r.role.value, r.name, r.created_at, r.last_used_at or "", r.revoked_at or "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`), or the key itself.")]) -> None:
    """Revoke a key at once; it can never be used again. Key checking stays on."""
    with open_key_store() as store:
        record = store.revoke(key_id)
    console.print(f"revoked {record.id} ({record.username}, {record.role.value}) at {record.revoked_at}")
