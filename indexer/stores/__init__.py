"""Stores: the SQLite catalog (the source of truth) and what is kept or derived from it.

    catalog.py            connection, transactions, meta, assets and contents (Catalog)
    catalog_schema.py     the tables, and how an asset's editable fields are stored in them
    catalog_vectors.py    Catalog's vector side: vectors, vector_log, segments, image features
    catalog_lexical.py    Catalog's lexical side: lexical documents, the lexical_log outbox, the FTS5 row
    catalog_queries.py    Catalog's named asset and content queries for maintenance, adapters, feeds, evaluation
    sql_filters.py        the filter model as SQL
    vectors.py            the FAISS indexes (derived caches of the vectors table)
    lexical.py            the lexical store protocol, its documents and searchable text
    sqlite_lexical.py     the embedded lexical store (FTS5)
    opensearch.py         the OpenSearch lexical store, on opensearch_index.py (connection, versioned index
                          behind an alias), opensearch_mapping.py (template, documents) and
                          opensearch_query.py (filters as query DSL)
    outbox.py             replays the catalog's lexical_log into a store outside the catalog
    files.py              content files under the home: paths, the atomic write, the removal
    adapter_versions.py   adapters on disk, the active one, their status
    keys.py               API keys
    feed_state.py         the recommender's interests, shown and dismissed items
    proposals.py          propagation's proposals (a table of the catalog)
    snapshot.py           a backup's copy of the catalog and what its manifest reads from it
"""
