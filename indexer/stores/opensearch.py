"""The OpenSearch lexical store, fed from the catalog's `lexical_log` outbox.

The catalog stays the source of truth. Every asset write adds a `lexical_log` row in the same
transaction; the outbox replayer (indexer/stores/outbox.py) sends this store the rows it has not seen, so
a write made while the cluster is down waits in the catalog and is sent when it is back.

BM25, filters, exact facets and highlights, as the embedded FTS5 store gives them (the same contract
tests pass on both): the index and its mapping are indexer/stores/opensearch_index.py and
opensearch_mapping.py, the query DSL indexer/stores/opensearch_query.py.
"""

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from opensearchpy import exceptions as os_errors

from indexer.access import Viewer
from indexer.assets import MediaType
from indexer.errors import InvalidInput, StoreUnavailable
from indexer.stores.lexical import FacetCount, LexicalDoc, LexicalHit, LexicalQuery, RebuildReport
from indexer.stores.opensearch_index import OpenSearchIndex
from indexer.stores.opensearch_mapping import MAPPING_VERSION, MAX_RESULT_WINDOW, from_source, to_source
from indexer.stores.opensearch_query import FACET_FIELDS, bool_query, read_hits, search_body

COMPOSITE_PAGE = 1000
BULK_BATCH = 500
# (action line, source line or None for a delete)
BulkAction = tuple[dict[str, Any], dict[str, Any] | None]


class OpenSearchLexicalStore(OpenSearchIndex):
    """BM25, filters, exact facets and highlights in OpenSearch, behind a versioned alias."""

    name = "opensearch"

    @property
    def applied_key(self) -> str:
        """The catalog's meta key of the last outbox entry this store has applied."""
        return f"lexical_applied_seq:opensearch:{self.alias}"

    # --- writing
    def upsert(self, docs: Sequence[LexicalDoc], versions: Mapping[str, int] | None = None) -> None:
        """Index documents. With `versions` (asset id -> outbox sequence number), an older write
        never overwrites a newer one (external versioning), whatever the order they arrive in."""
        self.ensure_index()
        self._bulk([(self._action("index", d.asset_id, versions), to_source(d)) for d in docs])

    def delete(self, asset_ids: Sequence[str], versions: Mapping[str, int] | None = None) -> None:
        self.ensure_index()
        self._bulk([(self._action("delete", i, versions), None) for i in asset_ids])

    def apply(self, upserts: Sequence[LexicalDoc], deletes: Sequence[str], versions: Mapping[str, int]) -> None:
        """One bulk request for a batch of outbox entries."""
        self.ensure_index()
        actions: list[BulkAction] = [(self._action("index", d.asset_id, versions), to_source(d)) for d in upserts]
        actions += [(self._action("delete", i, versions), None) for i in deletes]
        self._bulk(actions)

    @staticmethod
    def _action(op: str, asset_id: str, versions: Mapping[str, int] | None) -> dict[str, Any]:
        meta: dict[str, Any] = {"_id": asset_id}
        if versions is not None:
            meta.update(version=versions[asset_id], version_type="external_gte")
        return {op: meta}

    def _bulk(self, actions: list[BulkAction], index: str | None = None,
              refresh: str | None = None) -> None:
        """Bulk with retries: connection failures and 429/5xx items are retried with exponential
        back-off; a document the cluster rejects (e.g. a mapping conflict) raises at once."""
        pending = actions
        target = index or self.alias
        for start in range(0, len(pending), BULK_BATCH):
            self._bulk_batch(pending[start : start + BULK_BATCH], target, refresh or self.refresh)

    def _bulk_batch(self, actions: list[BulkAction], index: str, refresh: str) -> None:
        pending = actions
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            body: list[dict[str, Any]] = []
            for meta, source in pending:
                body.append(meta)
                if source is not None:
                    body.append(source)
            try:
                response = self.client.bulk(body=body, index=index, refresh=refresh, require_alias=index == self.alias)
            except (os_errors.ConnectionError, os_errors.ConnectionTimeout) as exc:
                if attempt == self.retries or isinstance(exc, os_errors.SSLError):  # a certificate does not heal
                    raise self._unavailable(exc, f"writing {len(pending)} documents") from None
                continue
            except os_errors.TransportError as exc:
                if exc.status_code in (429, 502, 503, 504) and attempt < self.retries:
                    continue
                raise self._unavailable(exc, f"writing {len(pending)} documents") from None
            retry, rejected = [], []
            for (meta, source), item in zip(pending, response["items"], strict=True):
                op, result = next(iter(item.items()))
                status = result.get("status", 500)
                # 409 with external versions: a newer write is there already. 404 on delete: gone already.
                if status < 300 or status == 409 or (op == "delete" and status == 404):
                    continue
                if status in (429, 502, 503, 504):
                    retry.append((meta, source))
                else:
                    error = result.get("error", {})
                    rejected.append(f"{result.get('_id')}: {error.get('type', '')} {error.get('reason', status)}".strip())
            if rejected and any("index_not_found" in r or "no such index" in r for r in rejected):
                self._ready = False  # the alias went away: the next write recreates it and the sync refills it
                raise StoreUnavailable(f"the index alias {self.alias} does not exist any more",
                                       "the next write recreates it from the catalog, or run `mediasearch reindex --lexical-only`")
            if rejected:
                raise StoreUnavailable(
                    f"OpenSearch rejected {len(rejected)} of {len(pending)} documents; first: {rejected[0]}",
                    "the index mapping may be out of date: run `mediasearch reindex --lexical-only`",
                )
            if not retry:
                return
            pending = retry
        raise StoreUnavailable(f"OpenSearch kept refusing {len(pending)} documents (busy) after {self.retries} retries",
                               "the cluster is overloaded; the writes stay in the catalog and are replayed later")

    def load(self, docs: Iterable[LexicalDoc], version: int | None = None, *, index: str | None = None,
             refresh: str | None = None, progress: Callable[[int], None] | None = None) -> int:
        """Index a stream of documents in bulk batches, all with the same external version (when given)."""
        self.ensure_index()
        count = 0
        batch: list[LexicalDoc] = []

        def flush() -> None:
            nonlocal count
            versions = {d.asset_id: version for d in batch} if version is not None else None
            self._bulk([(self._action("index", d.asset_id, versions), to_source(d)) for d in batch], index=index, refresh=refresh)
            count += len(batch)
            batch.clear()
            if progress:
                progress(count)

        for doc in docs:
            batch.append(doc)
            if len(batch) >= BULK_BATCH:
                flush()
        if batch:
            flush()
        return count

    # --- reading
    def get(self, asset_id: str) -> LexicalDoc | None:
        self.ensure_index()
        try:
            found = self.client.get(index=self.alias, id=asset_id)
        except os_errors.NotFoundError:
            return None
        except os_errors.TransportError as exc:
            raise self._unavailable(exc, f"reading {asset_id}") from None
        return from_source(found["_source"])

    def scan(self, batch_size: int = 500) -> Iterator[LexicalDoc]:
        self.ensure_index()
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"query": {"match_all": {}}, "size": batch_size, "sort": [{"asset_id": "asc"}]}
            if after is not None:
                body["search_after"] = after
            hits = self._search(body, "scanning")["hits"]["hits"]
            for hit in hits:
                yield from_source(hit["_source"])
            if len(hits) < batch_size:
                return
            after = hits[-1]["sort"]

    def _search(self, body: dict[str, Any], doing: str) -> dict[str, Any]:
        """A search through the alias; retried once when shards fail (e.g. the alias moved to a new index
        and the old one was deleted while the search ran)."""
        for attempt in range(2):
            try:
                response = self.client.search(index=self.alias, body=body)
            except os_errors.NotFoundError as exc:
                if attempt == 0:
                    continue
                self._ready = False
                raise self._unavailable(exc, doing) from None
            except os_errors.TransportError as exc:
                raise self._unavailable(exc, doing) from None
            if response.get("_shards", {}).get("failed", 0) == 0:
                return response
        failures = response.get("_shards", {}).get("failures", [{}])
        raise StoreUnavailable(f"OpenSearch shards failed while {doing}: {failures[0].get('reason', failures[0])}",
                               "see `mediasearch status` for the cluster's health")

    def search(self, query: LexicalQuery, viewer: Viewer, k: int, offset: int = 0, *,
               highlight: bool = True) -> list[LexicalHit]:
        if k <= 0:
            return []
        if offset + k > MAX_RESULT_WINDOW:
            raise InvalidInput(f"results beyond the first {MAX_RESULT_WINDOW:,} cannot be paged to",
                               "narrow the query with words or filters")
        self.ensure_index()
        return read_hits(self._search(search_body(query, viewer, k, offset, highlight=highlight), "searching"), query)

    def search_groups(self, query: LexicalQuery, viewer: Viewer, k: int,
                      groups: Sequence[Sequence[MediaType]], *, highlight: bool = True) -> list[list[LexicalHit]]:
        """The best k of each group of media types in one round trip (an msearch, one search per
        group, each with its own top-k pruning). `query.media_types` is ignored."""
        if k <= 0 or not groups:
            return [[] for _ in groups]
        self.ensure_index()
        queries = [query.model_copy(update={"media_types": list(g)}) for g in groups]
        lines: list[dict[str, Any]] = []
        for q in queries:
            # The shard request cache (invalidated at each refresh, so never stale) keeps a query's hits: a
            # page asked again, the next page, the same words from the search box. Bodies with size > 0 are
            # cached only when asked; facet counts (size 0) are cached by default.
            lines += [{"request_cache": True}, search_body(q, viewer, k, 0, highlight=highlight)]
        out = []
        for q, response in zip(queries, self._msearch(lines, "searching"), strict=True):
            if "error" in response:
                raise StoreUnavailable(f"OpenSearch could not search: {response['error'].get('reason', response['error'])}",
                                       "see `mediasearch status` for the cluster's health")
            out.append(read_hits(response, q))
        return out

    def highlights(self, query: LexicalQuery, viewer: Viewer, asset_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """The highlights `search` makes, for the given assets alone, in one round trip: the search's own
        request (visibility and filters included) with an ids filter."""
        ids = list(dict.fromkeys(asset_ids))
        if not ids or not query.has_text:
            return {}
        if len(ids) > MAX_RESULT_WINDOW:
            raise InvalidInput(f"highlights for more than {MAX_RESULT_WINDOW:,} assets cannot be asked at once",
                               "ask for the hits of one page")
        self.ensure_index()
        body = search_body(query, viewer, len(ids), 0)
        body["query"] = {"bool": {"must": [body["query"]], "filter": [{"terms": {"asset_id": ids}}]}}
        return {hit.asset_id: hit.highlights for hit in read_hits(self._search(body, "highlighting"), query) if hit.highlights}

    def count(self, query: LexicalQuery | None = None, viewer: Viewer | None = None) -> int:
        self.ensure_index()
        body = {"query": bool_query(query, viewer or Viewer(admin=True))} if query is not None else None
        return int(self._call("counting", lambda: self.client.count(index=self.alias, body=body))["count"])

    def facets(self, query: LexicalQuery, viewer: Viewer, fields: Sequence[str], size: int = 20) -> dict[str, list[FacetCount]]:
        """Exact counts: every value is collected with a paged composite aggregation, then the most
        frequent `size` are kept (ties by value, as SQLite orders them). Like the embedded store,
        the media types of the query do not narrow the facets."""
        for field in fields:
            if field not in FACET_FIELDS:
                raise ValueError(f"unknown facet '{field}'")
        self.ensure_index()
        counts: dict[str, dict[str, int]] = {f: {} for f in fields}
        queries = {f: bool_query(query, viewer, query.filters.without_field(f), use_types=False) for f in fields}
        after: dict[str, dict[str, Any] | None] = {f: None for f in fields}
        todo = list(dict.fromkeys(fields))
        while todo:
            lines: list[dict[str, Any]] = []
            for field in todo:
                composite: dict[str, Any] = {"size": COMPOSITE_PAGE, "sources": [{"v": {"terms": {"field": FACET_FIELDS[field]}}}]}
                if after[field] is not None:
                    composite["after"] = after[field]
                lines += [{}, {"size": 0, "track_total_hits": False, "query": queries[field],
                               "aggs": {"values": {"composite": composite}}}]
            responses = self._msearch(lines, "counting facets")
            next_todo = []
            for field, response in zip(todo, responses, strict=True):
                if "error" in response:
                    raise StoreUnavailable(f"OpenSearch could not count the facet '{field}': {response['error'].get('reason', response['error'])}",
                                           "see `mediasearch status` for the cluster's health")
                agg = response["aggregations"]["values"]
                for bucket in agg["buckets"]:
                    counts[field][str(bucket["key"]["v"])] = bucket["doc_count"]
                if len(agg["buckets"]) == COMPOSITE_PAGE and agg.get("after_key"):
                    after[field] = agg["after_key"]
                    next_todo.append(field)
            todo = next_todo
        return {
            field: [FacetCount(value=v, count=n) for v, n in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]
            for field, values in counts.items()
        }

    def _msearch(self, lines: list[dict[str, Any]], doing: str) -> list[dict[str, Any]]:
        return self._call(doing, lambda: self.client.msearch(index=self.alias, body=lines))["responses"]

    # --- operations
    def rebuild(self, docs: Iterable[LexicalDoc], version: int | None = None,
                progress: Callable[[int], None] | None = None) -> RebuildReport:
        """Build the next index version from `docs`, swap the alias to it in one atomic request and
        delete the old versions. Searches keep using the old index until the swap."""
        started = time.perf_counter()
        self._ready = False
        self.ensure_index()
        old = self.alias_targets()
        name = self._index_name(max(self._versions().values(), default=0) + 1)
        # Fast loading: no refreshes and no replicas until the data is in.
        self._call(f"creating {name}", lambda: self.client.indices.create(
            index=name, body={"settings": {"index": {"refresh_interval": "-1", "number_of_replicas": 0,
                                                     "auto_expand_replicas": False}}}))
        count = self.load(docs, version, index=name, refresh="false", progress=progress)
        replicas = {"number_of_replicas": self.replicas} if self.replicas is not None else {"auto_expand_replicas": "0-1"}
        self._call(f"finishing {name}", lambda: self.client.indices.put_settings(
            index=name, body={"index": {"refresh_interval": None, **replicas}}))
        self._call(f"refreshing {name}", lambda: self.client.indices.refresh(index=name))
        self._wait_for_health(name)
        actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": self.alias}} for i in old]
        actions.append({"add": {"index": name, "alias": self.alias}})
        self._call("swapping the alias", lambda: self.client.indices.update_aliases(body={"actions": actions}))
        stale = [i for i in self._versions() if i != name]
        if stale:
            self._call("deleting the old index", lambda: self.client.indices.delete(index=",".join(stale)))
        self._ready = False
        self.ensure_index()
        return RebuildReport(index=name, documents=count, deleted=stale, seconds=round(time.perf_counter() - started, 2))

    def report_status(self, out: dict[str, Any]) -> None:
        """Fill in the cluster's health, the index behind the alias and its document count, and an error
        when the index has an older mapping; a MediasearchError midway leaves what was found."""
        out["health"] = self.cluster_health().get("status", "unknown")
        self.ensure_index()
        out["index"] = ", ".join(self.alias_targets())
        out["documents"] = self.count()
        if self.mapping_version != MAPPING_VERSION:
            out["error"] = (f"the index has mapping version {self.mapping_version}, this version writes "
                            f"{MAPPING_VERSION}: run `mediasearch reindex --lexical-only`")
