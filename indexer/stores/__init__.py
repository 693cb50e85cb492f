"""Stores: the SQLite catalog (source of truth, BM25) and what derives from it.

    files.py      content files under the home folder: their paths, the atomic write, the removal
"""
