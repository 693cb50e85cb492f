"""Stores: the SQLite catalog (source of truth, BM25) and the FAISS vector indexes (derived)."""
