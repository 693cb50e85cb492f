"""Query layer: one query fans out to retrieval channels that share the same filters."""

from query.search import Hit, SearchRequest, SearchResponse, more_like_this, retrieve, search

__all__ = ["Hit", "SearchRequest", "SearchResponse", "more_like_this", "retrieve", "search"]
