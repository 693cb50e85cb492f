"""The OpenSearch lexical store, fed from the catalog's `lexical_log` outbox.

The catalog stays the source of truth. Every asset write adds a `lexical_log`
row in the same transaction; the outbox replayer (indexer/stores/outbox.py) sends
this store the rows it has not seen, so a write made while the cluster is down
waits in the catalog and is sent when it is back. The index layout and mapping
are indexer/stores/opensearch_mapping.py, the query DSL (filters meaning what
they mean in SQLite) indexer/stores/opensearch_query.py.
"""

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors
from pydantic import SecretStr

from indexer.access import Viewer
from indexer.assets import MediaType
from indexer.errors import ConfigurationError, InvalidInput, StoreUnavailable
from indexer.stores.lexical import FacetCount, LexicalDoc, LexicalHit, LexicalQuery, RebuildReport
from indexer.stores.opensearch_mapping import MAPPING_VERSION, MAX_RESULT_WINDOW, from_source, index_template, to_source

from indexer.stores.opensearch_query import FACET_FIELDS, bool_query, read_hits, search_body

if TYPE_CHECKING:
    from indexer.config import Settings


COMPOSITE_PAGE = 1000
BULK_BATCH = 500
Refresh = Literal["true", "false", "wait_for"]
# (action line, source line or None for a delete)
BulkAction = tuple[dict[str, Any], dict[str, Any] | None]

# --- the store ----------------------------------------------------------------------------------

class OpenSearchLexicalStore:
    """BM25, filters, exact facets and highlights in OpenSearch, behind a versioned alias."""

    name = "opensearch"

    @property
    def applied_key(self) -> str:
        """The catalog's meta key of the last outbox entry this store has applied."""
        return f"lexical_applied_seq:opensearch:{self.alias}"

    def __init__(
        self,
        hosts: Sequence[str],
        *,
        prefix: str = "mediasearch",
        user: str | None = None,
        password: str | None = None,
        api_key: str | None = None,
        ca_file: str | None = None,
        refresh: Refresh = "true",
        shards: int = 1,
        replicas: int | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
    ):
        if not hosts:
            raise ConfigurationError("no OpenSearch host given", "set MEDIASEARCH_OPENSEARCH_URL, e.g. http://127.0.0.1:9200")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", prefix):
            raise ConfigurationError(f"invalid OpenSearch index prefix {prefix!r}",
                                     "use lowercase letters, digits, '-' and '_', starting with a letter or digit")
        if api_key and (user or password):
            raise ConfigurationError("both an OpenSearch API key and a user/password are set", "set only one of them")
        if ca_file and not os.path.isfile(ca_file):
            raise ConfigurationError(f"the OpenSearch CA file {ca_file} does not exist",
                                     "set MEDIASEARCH_OPENSEARCH_CA to the PEM file that signed the cluster's certificates")
        self.hosts = list(hosts)
        self.prefix = prefix
        self.alias = f"{prefix}-assets"
        self.refresh = refresh
        self.shards, self.replicas = shards, replicas
        self.retries, self.backoff = retries, backoff
        options: dict[str, Any] = {"timeout": timeout, "max_retries": max(0, len(self.hosts) - 1), "retry_on_timeout": True}
        if user or password:
            options["http_auth"] = (user or "", password or "")
        if api_key:
            options["headers"] = {"Authorization": f"ApiKey {api_key}"}
        if any(h.startswith("https://") for h in self.hosts):
            options.update(use_ssl=True, verify_certs=True, ssl_show_warn=False)
            if ca_file:
                options["ca_certs"] = ca_file
        self.client = OpenSearch(hosts=self.hosts, **options)
        self._ready = False
        self._ready_lock = threading.Lock()
        self.mapping_version: int | None = None
        self.fresh_index = False

    @classmethod
    def from_settings(cls, settings: "Settings") -> "OpenSearchLexicalStore":
        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        return cls(
            settings.opensearch_hosts, prefix=settings.opensearch_prefix, user=settings.opensearch_user,
            password=secret(settings.opensearch_password), api_key=secret(settings.opensearch_api_key),
            ca_file=str(settings.opensearch_ca) if settings.opensearch_ca else None,
            refresh=settings.opensearch_refresh, shards=settings.opensearch_shards, replicas=settings.opensearch_replicas,
        )

    def describe(self) -> str:
        return f"{', '.join(self.hosts)} alias {self.alias}"

    # --- errors
    def _unavailable(self, exc: Exception, doing: str) -> StoreUnavailable:
        where = ", ".join(self.hosts)
        if isinstance(exc, (os_errors.ConnectionError, os_errors.ConnectionTimeout)):
            return StoreUnavailable(
                f"cannot reach OpenSearch at {where} while {doing}: {getattr(exc, 'info', exc)}",
                "start the cluster (docker/opensearch-local.sh start for a local node) or fix MEDIASEARCH_OPENSEARCH_URL; "
                "writes are kept in the catalog and replayed when it is back",
            )
        if isinstance(exc, (os_errors.AuthenticationException, os_errors.AuthorizationException)):
            return StoreUnavailable(
                f"OpenSearch at {where} refused the credentials while {doing} ({exc.status_code})",
                "check MEDIASEARCH_OPENSEARCH_USER and _PASSWORD, or _API_KEY, and the user's index permissions",
            )
        status = getattr(exc, "status_code", "?")
        return StoreUnavailable(f"OpenSearch at {where} answered {status} while {doing}: {_reason(exc)}",
                                "see the cluster's log; `mediasearch status` shows its health")

    def _call(self, doing: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except os_errors.TransportError as exc:  # ConnectionError and the HTTP errors are TransportErrors
            raise self._unavailable(exc, doing) from None

    # --- the index, its template and alias
    def _index_name(self, version: int) -> str:
        return f"{self.alias}-v{version}"

    def _versions(self) -> dict[str, int]:
        found = self._call("listing indexes", lambda: self.client.indices.get(
            index=f"{self.alias}-v*", allow_no_indices=True, expand_wildcards="open,closed"))
        out = {}
        for name in found:
            m = re.fullmatch(re.escape(self.alias) + r"-v(\d+)", name)
            if m:
                out[name] = int(m.group(1))
        return out

    def alias_targets(self) -> list[str]:
        try:
            return sorted(self.client.indices.get_alias(name=self.alias))
        except os_errors.NotFoundError:
            return []
        except os_errors.TransportError as exc:
            raise self._unavailable(exc, "reading the alias") from None

    def ensure_index(self) -> None:
        """Put the template and make sure the alias points at an index. An index created here is
        empty: `fresh_index` stays True until the outbox sync has filled it from the catalog."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            body = index_template(self.prefix, self.shards, self.replicas)
            self._call("writing the index template",
                       lambda: self.client.indices.put_index_template(name=self.alias, body=body))
            if not self.alias_targets():
                if self._call("checking the alias", lambda: self.client.indices.exists(index=self.alias)):
                    raise ConfigurationError(
                        f"OpenSearch has an index named {self.alias}, where mediasearch keeps an alias",
                        "delete that index, or set MEDIASEARCH_OPENSEARCH_PREFIX to another prefix",
                    )
                name = self._index_name(max(self._versions().values(), default=0) + 1)
                try:
                    self.client.indices.create(index=name, body={"aliases": {self.alias: {}}})
                    self.fresh_index = True
                except os_errors.RequestError as exc:
                    if "resource_already_exists" not in str(exc.error):
                        raise self._unavailable(exc, f"creating {name}") from None
                    # Another process created it at the same moment: use theirs.
                except os_errors.TransportError as exc:
                    raise self._unavailable(exc, f"creating {name}") from None
                self._wait_for_health(name)
            mapping = self._call("reading the mapping", lambda: self.client.indices.get_mapping(index=self.alias))
            metas = [m.get("mappings", {}).get("_meta", {}).get("mediasearch_mapping") for m in mapping.values()]
            self.mapping_version = metas[0] if metas else None
            self._ready = True

    def _wait_for_health(self, index: str) -> None:
        health = self._call(f"waiting for {index}", lambda: self.client.cluster.health(
            index=index, params={"wait_for_status": "yellow", "timeout": "30s"}, request_timeout=40))
        if health.get("timed_out"):
            raise StoreUnavailable(f"the shards of {index} did not start within 30 s (cluster {health.get('status')})",
                                   "check the cluster's disk space and node count")

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
                if attempt == self.retries:
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

    def refresh_now(self) -> None:
        self._call("refreshing", lambda: self.client.indices.refresh(index=self.alias))

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

    def search(self, query: LexicalQuery, viewer: Viewer, k: int, offset: int = 0) -> list[LexicalHit]:
        if k <= 0:
            return []
        if offset + k > MAX_RESULT_WINDOW:
            raise InvalidInput(f"results beyond the first {MAX_RESULT_WINDOW:,} cannot be paged to",
                               "narrow the query with words or filters")
        self.ensure_index()
        return read_hits(self._search(search_body(query, viewer, k, offset), "searching"), query)

    def search_groups(self, query: LexicalQuery, viewer: Viewer, k: int,
                      groups: Sequence[Sequence[MediaType]]) -> list[list[LexicalHit]]:
        """The best k of each group of media types in one round trip (an msearch, one search per
        group, each with its own top-k pruning). `query.media_types` is ignored."""
        if k <= 0 or not groups:
            return [[] for _ in groups]
        self.ensure_index()
        queries = [query.model_copy(update={"media_types": list(g)}) for g in groups]
        lines: list[dict[str, Any]] = []
        for q in queries:
            lines += [{}, search_body(q, viewer, k, 0)]
        out = []
        for q, response in zip(queries, self._msearch(lines, "searching"), strict=True):
            if "error" in response:
                raise StoreUnavailable(f"OpenSearch could not search: {response['error'].get('reason', response['error'])}",
                                       "see `mediasearch status` for the cluster's health")
            out.append(read_hits(response, q))
        return out

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
    def cluster_health(self) -> dict[str, Any]:
        return self._call("reading the cluster health", lambda: self.client.cluster.health(params={"timeout": "5s"}, request_timeout=10))

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

    def drop(self) -> None:
        """Delete the alias, every index version and the template (tests and `mediasearch` clean-ups)."""
        names = list(self._versions())
        if names:
            self._call("deleting indexes", lambda: self.client.indices.delete(index=",".join(names)))
        try:
            self.client.indices.delete_index_template(name=self.alias)
        except os_errors.NotFoundError:
            pass
        self._ready = False

    def close(self) -> None:
        self.client.close()


def _reason(exc: Exception) -> str:
    info = getattr(exc, "info", None)
    if isinstance(info, dict):
        error = info.get("error")
        if isinstance(error, dict):
            return str(error.get("reason") or error.get("type") or error)
        return str(error or info)
    return str(getattr(exc, "error", exc))
