"""Run docker/docker-compose.yml with podman, without a compose tool: the compose file stays the only description
of the topology, and this script turns it into `podman build`, `podman volume create` and `podman run` calls.

    python docker/topology.py build          build every service's image (podman's layer cache makes a rebuild cheap)
    python docker/topology.py up             create the volumes, start the services in depends_on order, waiting
                                             for each dependency's healthcheck when the condition says so
    python docker/topology.py down [-v]      stop and remove the containers (-v: and the volumes)
    python docker/topology.py ps | logs SERVICE | config
    python docker/topology.py --dry-run up   print the podman commands instead of running them

It understands the part of the compose format that the file uses: image, build (context, dockerfile, args),
environment, command, volumes (named volumes), network_mode: host, ulimits, restart, healthcheck (CMD and
CMD-SHELL) and depends_on with service_started / service_healthy. Anything else in a service is an error, so the
file cannot silently say more than what is run. ${VAR}, ${VAR:-default} and $$ are interpolated from the
environment, as compose does. Podman runs with docker/containers.conf (runc, cgroupfs, host network): crun fails
on this host's cgroups.
"""

import argparse
import os
import re
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parent
COMPOSE = DOCKER / "docker-compose.yml"
KNOWN = {"image", "build", "environment", "command", "volumes", "network_mode", "ulimits", "restart",
         "healthcheck", "depends_on"}
# A container cannot get a limit above what the host lets runc set (the development machine lacks CAP_SYS_RESOURCE:
# its hard limits are 20000 open files and 96364 processes, podman's defaults of 1048576 and 4194304 fail, and so
# does nproc 65536 while 32768 works): these two limits are set on every container, capped as measured there.
HOST_LIMITS = {"nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1], "nproc": 32768}
HOST_LIMITS = {name: 1048576 if hard == resource.RLIM_INFINITY else hard for name, hard in HOST_LIMITS.items()}
VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


class TopologyError(Exception):
    pass


def interpolate(value: object) -> object:
    if isinstance(value, str):
        return VAR.sub(lambda m: "$" if m.group(0) == "$$" else (os.environ.get(m.group(1)) or (m.group(2) or "")), value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def load(path: Path = COMPOSE) -> dict:
    spec = interpolate(yaml.safe_load(path.read_text()))
    for name, service in spec["services"].items():
        unknown = set(service) - KNOWN
        if unknown:
            raise TopologyError(f"service {name}: {sorted(unknown)} is not understood by docker/topology.py; "
                                "teach it, or describe the service with the keys it knows")
        if service.get("network_mode") != "host":
            raise TopologyError(f"service {name}: only network_mode: host is supported here (podman, no bridges)")
    return spec


def order(services: dict) -> list[str]:
    done: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in path:
            raise TopologyError(f"depends_on cycle: {' -> '.join(path + (name,))}")
        for dep in services[name].get("depends_on", {}):
            visit(dep, path + (name,))
        done.append(name)

    for name in services:
        visit(name, ())
    return done


def container(project: str, service: str) -> str:
    return f"{project}-{service}"


def podman(*args: str, dry: bool = False, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    cmd = ["podman", *args]
    if dry:
        print(shlex.join(cmd))
        return subprocess.CompletedProcess(cmd, 0, "", "")
    return subprocess.run(cmd, check=check, text=True, capture_output=quiet)


def run_args(project: str, name: str, service: dict) -> list[str]:
    args = ["run", "-d", "--name", container(project, name), "--network", "host",
            "--label", f"com.docker.compose.project={project}", "--label", f"com.docker.compose.service={name}"]
    if service.get("restart"):
        args += ["--restart", service["restart"]]
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    for key, value in env.items():
        if value is None or value == "":  # compose passes an empty value; the services treat unset and empty alike
            continue
        args += ["--env", f"{key}={value}"]
    for volume in service.get("volumes", []):
        source, target = volume.split(":", 1)
        args += ["--volume", f"{project}_{source}:{target}"]
    limits = dict(service.get("ulimits") or {})
    for name, host_hard in HOST_LIMITS.items():
        limits.setdefault(name, {"soft": host_hard, "hard": host_hard})
    for limit, value in limits.items():
        soft, hard = (value["soft"], value["hard"]) if isinstance(value, dict) else (value, value)
        if limit in HOST_LIMITS:
            soft, hard = min(int(soft), HOST_LIMITS[limit]), min(int(hard), HOST_LIMITS[limit])
        args += ["--ulimit", f"{limit}={soft}:{hard}"]
    args.append(service["image"])
    command = service.get("command")
    if command:
        args += command if isinstance(command, list) else shlex.split(command)
    return args


def health_command(service: dict) -> list[str] | None:
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return None
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *rest = test
    return ["sh", "-c", rest[0]] if kind == "CMD-SHELL" else rest


def seconds(value: str | int | None, default: float) -> float:
    if value is None:
        return default
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", str(value))
    if not match:
        raise TopologyError(f"cannot read the duration {value!r}")
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[match.group(2)]


def wait_healthy(project: str, name: str, service: dict) -> float:
    """Runs the service's healthcheck in its container until it passes; returns the seconds it took."""
    test = health_command(service)
    if test is None:
        raise TopologyError(f"service {name} has no healthcheck, and a dependent waits for service_healthy")
    check = service["healthcheck"]
    interval, timeout = seconds(check.get("interval"), 30), seconds(check.get("timeout"), 30)
    retries = int(check.get("retries", 3)) + int(seconds(check.get("start_period"), 0) / max(interval, 1))
    started = time.monotonic()
    for _ in range(retries + 1):
        try:
            r = subprocess.run(["podman", "exec", container(project, name), *test], capture_output=True, text=True,
                               timeout=timeout + 5)
            if r.returncode == 0:
                return time.monotonic() - started
        except subprocess.TimeoutExpired:
            pass
        state = podman("inspect", "--format", "{{.State.Status}}", container(project, name), check=False, quiet=True)
        if state.stdout.strip() not in ("running", "created"):
            logs = podman("logs", "--tail", "40", container(project, name), check=False, quiet=True)
            raise TopologyError(f"{name} stopped ({state.stdout.strip()}) before it was healthy:\n{logs.stdout}{logs.stderr}")
        time.sleep(interval)
    raise TopologyError(f"{name} was not healthy after {time.monotonic() - started:.0f} s "
                        f"(see `python docker/topology.py logs {name}`)")


def image_id(image: str) -> str | None:
    r = podman("image", "inspect", "--format", "{{.Id}}", image, check=False, quiet=True)
    return r.stdout.strip() or None if r.returncode == 0 else None


def build(spec: dict, dry: bool) -> None:
    built: set[str] = set()
    for name, service in spec["services"].items():
        b = service.get("build")
        if not b or service["image"] in built:  # the three OpenSearch nodes and the two API nodes share an image
            continue
        built.add(service["image"])
        context = (COMPOSE.parent / b["context"]).resolve()
        args = ["build", "--network", "host", "-t", service["image"]]
        dockerfile = context / b.get("dockerfile", "Dockerfile")
        args += ["-f", str(dockerfile)]
        ignore = Path(f"{dockerfile}.dockerignore")
        if ignore.exists():
            args += ["--ignorefile", str(ignore)]
        for key, value in (b.get("args") or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        started = time.monotonic()
        before = image_id(service["image"]) if not dry else None
        podman(*args, str(context), dry=dry)
        if not dry:
            print(f"topology: built {service['image']} in {time.monotonic() - started:.1f} s", flush=True)
            if before and image_id(service["image"]) != before:  # the replaced image and its layers (GBs for the API)
                podman("rmi", before, check=False, quiet=True)


def up(spec: dict, dry: bool) -> None:
    project, services = spec.get("name", "mediasearch"), spec["services"]
    for volume in spec.get("volumes", {}):
        exists = podman("volume", "exists", f"{project}_{volume}", check=False, quiet=True).returncode == 0
        if not exists or dry:
            podman("volume", "create", f"{project}_{volume}", dry=dry, quiet=not dry)
    t0 = time.monotonic()
    healthy: set[str] = set()
    for name in order(services):
        for dep, cond in (services[name].get("depends_on") or {}).items():
            condition = (cond or {}).get("condition", "service_started")
            if condition == "service_healthy" and dep not in healthy and not dry:
                took = wait_healthy(project, dep, services[dep])
                healthy.add(dep)
                print(f"topology: {dep} healthy ({took:.1f} s after its wait began, {time.monotonic() - t0:.1f} s "
                      "after up)", flush=True)
        podman("rm", "-f", "--ignore", container(project, name), dry=dry, quiet=True)
        podman(*run_args(project, name, services[name]), dry=dry, quiet=not dry)
        print(f"topology: started {name}", flush=True)
    if dry:
        return
    for name in order(services):  # everything healthy before `up` returns
        if name not in healthy and health_command(services[name]):
            wait_healthy(project, name, services[name])
            print(f"topology: {name} healthy ({time.monotonic() - t0:.1f} s after up)", flush=True)
    print(f"topology: up in {time.monotonic() - t0:.1f} s", flush=True)


def down(spec: dict, volumes: bool, dry: bool) -> None:
    project = spec.get("name", "mediasearch")
    for name in reversed(order(spec["services"])):
        podman("rm", "-f", "--ignore", "-t", "20", container(project, name), dry=dry, quiet=True)
    if volumes:
        for volume in spec.get("volumes", {}):
            podman("volume", "rm", "-f", f"{project}_{volume}", dry=dry, check=False, quiet=True)
    print("topology: down" + (" (volumes removed)" if volumes else ""), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=COMPOSE)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("action", choices=["build", "up", "down", "ps", "logs", "config"])
    parser.add_argument("-v", "--volumes", action="store_true", help="down: remove the volumes too")
    parser.add_argument("service", nargs="?")
    args = parser.parse_args(argv)
    os.environ.setdefault("CONTAINERS_CONF", str(DOCKER / "containers.conf"))
    spec = load(args.file)
    project = spec.get("name", "mediasearch")
    try:
        if args.action == "build":
            build(spec, args.dry_run)
        elif args.action == "up":
            up(spec, args.dry_run)
        elif args.action == "down":
            down(spec, args.volumes, args.dry_run)
        elif args.action == "ps":
            podman("ps", "-a", "--filter", f"label=com.docker.compose.project={project}")
        elif args.action == "logs":
            if not args.service:
                parser.error("logs needs a SERVICE")
            podman("logs", container(project, args.service))
        else:
            yaml.safe_dump(spec, sys.stdout, sort_keys=False)
    except TopologyError as e:
        print(f"topology: error: {e}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as e:
        print(f"topology: error: {shlex.join(e.cmd)} exited {e.returncode}\n{e.stderr or ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
