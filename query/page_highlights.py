"""Highlights for the hits a page shows, asked of the lexical store once per search.

The BM25 channels ask for `depth` hits per group (50 or more, three groups) and make no highlights
(`search_groups(..., highlight=False)`): a page shows ten. Once fusion has placed the page, the store
highlights those hits alone (`LexicalStore.highlights`), with the same strings the channels' hits would
have carried.

The rule stays the one the channels kept: a content's snippet comes from the words of the asset that
stands for it (its representative) only when that asset is the one a BM25 channel matched; another
asset's words (a private copy's title, another owner's description) never show through it. The store
highlights only assets the viewer may see (the search's own visibility filter).
"""

from collections.abc import Iterable, Mapping

from indexer.access import Viewer
from indexer.collection import Collection
from indexer.filters import Filters
from indexer.stores.lexical import LexicalQuery
from query.channels import ChannelResult
from query.language import ParsedQuery


def page_highlights(collection: Collection, parsed: ParsedQuery, filters: Filters, viewer: Viewer,
                    results: Mapping[str, ChannelResult], representatives: Mapping[int, Mapping],
                    shown: Iterable[int]) -> dict[int, dict[str, str]]:
    """Content id -> field -> snippet with markers, for the shown contents whose representative is the
    asset a lexical channel matched (only the asset's own words)."""
    if not (parsed.words or parsed.phrases):
        return {}
    own: dict[str, int] = {}
    for cid in dict.fromkeys(shown):
        row = representatives.get(cid)
        if row is not None and any(r.matched.get(cid) == row["id"] for r in results.values()):
            own[row["id"]] = cid
    if not own:
        return {}
    query = LexicalQuery(words=parsed.words, phrases=parsed.phrases, excluded=parsed.excluded, filters=filters)
    marked = collection.lexical.highlights(query, viewer, list(own))
    return {own[asset_id]: h for asset_id, h in marked.items() if asset_id in own}
