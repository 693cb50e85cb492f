"""docker/docker-compose.yml is the one description of the cluster topology (issue 16 points 7 and 8), and
docker/topology.py turns it into podman calls. These tests read the real file: they need no podman (the images
and the running topology are checked by `make topology-test`, docs/deploy.md "Container images, tested here")."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("topology", ROOT / "docker" / "topology.py")
topology = importlib.util.module_from_spec(spec)
sys.modules["topology"] = topology
spec.loader.exec_module(topology)


@pytest.fixture
def compose(monkeypatch):
    for name in ("MEDIASEARCH_PORT_PREFIX", "MEDIASEARCH_DATABASE_URL", "POSTGRES_PASSWORD", "BASE_IMAGE",
                 "MEDIASEARCH_API_IMAGE"):
        monkeypatch.delenv(name, raising=False)
    return topology.load()


def env_of(args: list[str]) -> dict[str, str]:
    return dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--env")


def test_the_topology_of_issue_16(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "opensearch-1", "opensearch-2", "opensearch-3", "api-a", "api-b"}
    assert all(s["network_mode"] == "host" for s in services.values())
    # The API nodes start last, once PostgreSQL and every OpenSearch node are healthy.
    order = topology.order(services)
    assert order.index("api-a") > max(order.index(n) for n in ("postgres", "opensearch-1", "opensearch-2", "opensearch-3"))
    assert all(c["condition"] == "service_healthy" for c in services["api-a"]["depends_on"].values())
    # Both API nodes share the media volume and nothing else on disk.
    a, b = (topology.run_args("mediasearch", n, services[n]) for n in ("api-a", "api-b"))
    assert "mediasearch_media:/media" in a and "mediasearch_media:/media" in b
    assert "mediasearch_api-a-home:/data" in a and "mediasearch_api-a-home:/data" not in b


def test_ports_are_loopback_in_the_range_and_distinct(compose):
    envs = {n: env_of(topology.run_args("mediasearch", n, s)) for n, s in compose["services"].items()}
    ports = [envs["postgres"]["PGPORT"], envs["api-a"]["PORT"], envs["api-b"]["PORT"]]
    ports += [envs[f"opensearch-{i}"][k] for i in (1, 2, 3) for k in ("http.port", "transport.port")]
    assert len(set(ports)) == len(ports) and all(18500 <= int(p) <= 18599 for p in ports)
    assert all(e["network.host"] == "127.0.0.1" for n, e in envs.items() if n.startswith("opensearch"))
    assert envs["api-a"]["MEDIASEARCH_OPENSEARCH_URL"].split(",") == [
        f"http://127.0.0.1:{envs[f'opensearch-{i}']['http.port']}" for i in (1, 2, 3)]
    assert envs["opensearch-1"]["discovery.seed_hosts"].split(",") == [
        f"127.0.0.1:{envs[f'opensearch-{i}']['transport.port']}" for i in (1, 2, 3)]


def test_interpolation_follows_compose(monkeypatch, compose):
    # No catalog URL: the variable is not passed at all (the nodes keep embedded catalogs).
    assert "MEDIASEARCH_DATABASE_URL" not in env_of(topology.run_args("mediasearch", "api-a", compose["services"]["api-a"]))
    url = "postgresql://mediasearch:mediasearch@127.0.0.1:18510/mediasearch"
    monkeypatch.setenv("MEDIASEARCH_DATABASE_URL", url)
    monkeypatch.setenv("MEDIASEARCH_PORT_PREFIX", "186")
    services = topology.load()["services"]
    env = env_of(topology.run_args("mediasearch", "api-b", services["api-b"]))
    assert env["MEDIASEARCH_DATABASE_URL"] == url and env["PORT"] == "18642"
    # $$ is a literal $, left for the container's shell.
    assert services["api-a"]["command"][-1].endswith("--port $PORT")
    assert topology.interpolate("a $$b ${UNSET_X:-c} ${UNSET_X}") == "a $b c "


def test_a_key_the_script_does_not_run_is_refused(tmp_path):
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  x:\n    image: y\n    network_mode: host\n    ports: ['80:80']\n")
    with pytest.raises(topology.TopologyError, match="ports"):
        topology.load(path)


def test_each_opensearch_healthcheck_asks_its_own_port(compose):
    # A shell drops environment variables with a dot in their name, so a check cannot read http.port itself.
    for name in ("opensearch-1", "opensearch-2", "opensearch-3"):
        service = compose["services"][name]
        port = service["environment"]["http.port"]
        assert any(f"127.0.0.1:{port}/" in part for part in topology.health_command(service))
