"""An OpenSearch client for one collection's assets index: the connection, its errors, and the versioned
index behind its alias (indexer/stores/opensearch_mapping.py describes the layout and the mapping).

Every cluster error becomes `StoreUnavailable` with what was being done and what to do about it; the
lexical store built on this (indexer/stores/opensearch.py) adds the writes and the searches.
"""

import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors
from pydantic import SecretStr

from indexer.errors import ConfigurationError, StoreUnavailable
from indexer.stores.opensearch_mapping import index_template

if TYPE_CHECKING:
    from indexer.config import Settings

Refresh = Literal["true", "false", "wait_for"]


class OpenSearchIndex:
    """The connection to a cluster and the assets index behind `<prefix>-assets`, created on first use."""

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
    def from_settings(cls, settings: "Settings") -> Self:
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
        if isinstance(exc, os_errors.SSLError):  # a ConnectionError too: checked first
            return StoreUnavailable(
                f"OpenSearch at {where} presented a TLS certificate that could not be verified while {doing}: "
                f"{_tls_reason(exc)}",
                "set MEDIASEARCH_OPENSEARCH_CA to the PEM file of the CA that signed the cluster's certificates "
                "(docker/opensearch-local.sh --security: <run folder>/config/root-ca.pem); the URL's host must be "
                "one the certificate names",
            )
        if isinstance(exc, (os_errors.ConnectionError, os_errors.ConnectionTimeout)):
            return StoreUnavailable(
                f"cannot reach OpenSearch at {where} while {doing}: {getattr(exc, 'info', exc)}",
                "start the cluster (docker/opensearch-local.sh start for a local node) or fix MEDIASEARCH_OPENSEARCH_URL "
                "(a cluster with TLS needs https:// URLs); writes are kept in the catalog and replayed when it is back",
            )
        if isinstance(exc, (os_errors.AuthenticationException, os_errors.AuthorizationException)):
            return StoreUnavailable(
                f"OpenSearch at {where} refused the credentials while {doing} ({exc.status_code})",
                "check MEDIASEARCH_OPENSEARCH_USER and MEDIASEARCH_OPENSEARCH_PASSWORD (or MEDIASEARCH_OPENSEARCH_API_KEY), "
                "and the user's index permissions",
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

    def cluster_health(self) -> dict[str, Any]:
        return self._call("reading the cluster health", lambda: self.client.cluster.health(params={"timeout": "5s"}, request_timeout=10))

    def refresh_now(self) -> None:
        self._call("refreshing", lambda: self.client.indices.refresh(index=self.alias))

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


def _tls_reason(exc: Exception) -> str:
    """The TLS library's words (e.g. 'certificate verify failed: self-signed certificate in certificate chain')."""
    text = str(getattr(exc, "info", None) or exc)
    found = re.search(r"certificate verify failed[^'\")\]]*", text)
    return found.group(0).strip() if found else text[-300:]


def _reason(exc: Exception) -> str:
    info = getattr(exc, "info", None)
    if isinstance(info, dict):
        error = info.get("error")
        if isinstance(error, dict):
            return str(error.get("reason") or error.get("type") or error)
        return str(error or info)
    return str(getattr(exc, "error", exc))
