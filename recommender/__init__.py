"""Recommender: seed clustering over a user's own posts (MediaVerse D3.2 section 4).

Not built yet: it is tracked as its own issue and builds on the query layer.
Nothing here is imported by the rest of the code base.
"""
