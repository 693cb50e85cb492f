"""`mediasearch check` and `repair`: compare every derived store with the catalog, and rebuild what disagrees.

The catalog (SQLite) is the source of truth; the FAISS indexes and the lexical store
are derived from it and can always be rebuilt.
"""

from indexer.collection import Collection


def check(collection: Collection) -> dict[str, object]:
    """Per store: what the catalog has that the store lacks, and what the store has in excess."""
    collection.catch_up()
    collection.sync_lexical()
    report: dict[str, object] = {}
    agree = True
    for space, index in collection.indexes.items():
        expected = {r[0] for r in collection.catalog.db.execute("SELECT content_id FROM vectors WHERE space = ?", (space,))}
        present = set(index.ids().tolist())
        missing, extra = sorted(expected - present), sorted(present - expected)
        report[f"vectors:{space}"] = {"catalog": len(expected), "store": len(present), "missing": missing[:20],
                                      "extra": extra[:20], "in_agreement": not missing and not extra}
        agree &= not missing and not extra
    expected_assets = {r[0] for r in collection.catalog.db.execute("SELECT id FROM assets")}
    indexed = {doc.asset_id for doc in collection.lexical.scan()}
    missing, extra = sorted(expected_assets - indexed), sorted(indexed - expected_assets)
    report[f"lexical:{collection.lexical.name}"] = {"catalog": len(expected_assets), "store": len(indexed),
                                                   "missing": missing[:20], "extra": extra[:20],
                                                   "in_agreement": not missing and not extra}
    agree &= not missing and not extra
    report["in_agreement"] = agree
    return report


def repair(collection: Collection) -> list[str]:
    """Rebuild every store that disagrees with the catalog; returns what was rebuilt."""
    from indexer.reindex import reindex_lexical

    report = check(collection)
    done = []
    for space in list(collection.indexes):
        if not report[f"vectors:{space}"]["in_agreement"]:  # type: ignore[index]
            collection.indexes[space] = collection.rebuild_index(space)
            done.append(f"rebuilt the {space} vector index from the catalog")
    if not report[f"lexical:{collection.lexical.name}"]["in_agreement"]:  # type: ignore[index]
        reindex_lexical(collection)
        done.append(f"rebuilt the {collection.lexical.name} lexical index from the catalog")
    collection.flush()
    return done


__all__ = ["check", "repair"]
