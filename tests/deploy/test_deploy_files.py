"""The deployment files agree with the code: commands, flags, ports, paths, names and settings.

No Docker engine or cluster is needed: the Dockerfile, compose.yaml, the Kubernetes manifests and
the systemd unit are read as text and checked against the CLI parser, the HTTP app's real routes,
the configuration loader and the settings classes.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from pydantic_settings import BaseSettings

from chat_api.app import create_app as create_chat_app
from chat_api.settings import ChatSettings
from chat_api.web_static import DIST, MANUAL_BUILD, WEB_ROOT
from examples.servers.database import DEFAULT_DB_PATH
from mcp_proxy.cli import build_parser
from mcp_proxy.config.interpolate import expand_tree
from mcp_proxy.config.loading import load_config
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.http_app import MCP_PATH, FrontOptions, build_http_app
from mcp_proxy.settings import RuntimeSettings
from tests.deploy.files import (
    DEPLOY,
    K8S,
    REPO_ROOT,
    Dockerfile,
    asgi_status,
    dockerignore_patterns,
    dockerignored,
    image_path_source,
    k8s_objects,
    make_recipe,
    make_recipe_text,
    read_dockerfile,
    stage_files,
    systemd_unit,
    yaml_documents,
)

CONTAINER_CONFIG = DEPLOY / "servers.container.toml"
HEALTHCHECK_SCRIPT = DEPLOY / "healthcheck.py"
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
LOOPBACK = ("127.0.0.1", "localhost")
ROOT_USERS = ("root", "0")


# ---- shared facts ---------------------------------------------------------------------------------


def proxy_routes() -> set[str]:
    """The paths the proxy's HTTP app really serves (building the app starts nothing)."""
    app = build_http_app(load_config(CONTAINER_CONFIG, environ={}))
    return {str(getattr(route, "path", "")) for route in app.routes}


def chat_routes() -> set[str]:
    """The API paths the chat service's app really serves, from its OpenAPI schema (building the app starts nothing)."""
    return set(create_chat_app(ChatSettings()).openapi()["paths"])


def settings_env_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable a settings class reads (names compared in upper case)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, info in settings.model_fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        if choices is not None:
            names.update(str(choice).upper() for choice in choices)
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def serve_args(argv: list[str]) -> Any:
    """`mcp-proxy ...` argv parsed by the real CLI parser; it must be a `serve` command."""
    assert argv[0].rsplit("/", 1)[-1] == "mcp-proxy", argv
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve"
    return args


def url_parts(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    return parts.hostname, parts.port, parts.path


def server_table(config: ProxyConfig) -> list[tuple[str, str, str | None, str | None, tuple[str, ...]]]:
    return [(s.name, s.transport, s.command, s.module, tuple(s.args)) for s in config.servers]


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return read_dockerfile()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    documents = yaml_documents(REPO_ROOT / "compose.yaml")
    assert len(documents) == 1
    return documents[0]


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    return k8s_objects()


def image_cmd(dockerfile: Dockerfile) -> list[str]:
    return dockerfile.final.last("CMD").exec_form()


def image_user_id(dockerfile: Dockerfile) -> int:
    user = dockerfile.final.last("USER").body().split(":")[0]
    assert user.isdigit(), "USER should be numeric so that Kubernetes can verify runAsNonRoot"
    return int(user)


# ---- Dockerfile -----------------------------------------------------------------------------------


def test_the_dockerfile_builds_the_ui_and_the_venv_in_stages_and_ships_a_runtime_stage(dockerfile: Dockerfile) -> None:
    assert [stage.name for stage in dockerfile.stages] == ["web", "build", "runtime"]
    _, build, runtime = dockerfile.stages
    # The venv is copied between stages, so both must use the same interpreter.
    assert build.base == runtime.base
    assert {i.flags().get("from") for i in runtime.all("COPY")} == {"build", None}
    assert all("pip install" not in i.text and "npm" not in i.text for i in runtime.all("RUN"))


def test_the_ui_is_built_as_documented_and_lands_where_the_chat_service_serves_it(dockerfile: Dockerfile) -> None:
    web = dockerfile.stage("web")
    folder, _, commands = MANUAL_BUILD.partition(" && ")
    assert folder == "cd chat_api/web"
    documented = [shlex.split(command) for command in commands.split(" && ")]
    assert [argv for i in web.all("RUN") for argv in i.shell_commands()] == documented
    workdir = web.last("WORKDIR").body()
    assert (
        image_path_source(stage_files(dockerfile, web), f"{workdir}/package-lock.json")
        == WEB_ROOT / "package-lock.json"
    )
    assert image_path_source(stage_files(dockerfile, web), f"{workdir}/src") == WEB_ROOT / "src"
    # The build stage copies the output next to the installed package, at the path it serves.
    build = dockerfile.stage("build")
    (copy,) = [i for i in build.all("COPY") if i.flags().get("from") == "web"]
    (source,), staged = copy.copy_sources()
    assert source == f"{workdir}/{DIST.name}"
    (place,) = [i for i in build.all("RUN") if staged in i.text]
    assert "import chat_api.web_static as web; print(web.DIST)" in place.text
    install = next(i for i in build.all("RUN") if "pip install" in i.text)
    assert build.instructions.index(place) > build.instructions.index(install)


def test_the_image_runs_as_an_unprivileged_user_it_creates(dockerfile: Dockerfile) -> None:
    uid = image_user_id(dockerfile)
    assert uid != 0
    created = " ".join(i.text for i in dockerfile.final.all("RUN"))
    assert f"--uid {uid}" in created
    # USER is the last word: nothing after it runs as root.
    keywords = [i.keyword for i in dockerfile.final.instructions]
    assert "RUN" not in keywords[keywords.index("USER") :]


def test_the_image_command_is_a_valid_http_serve_invocation(dockerfile: Dockerfile) -> None:
    cmd = image_cmd(dockerfile)
    assert cmd[0] in PYPROJECT["project"]["scripts"]
    args = serve_args(cmd)
    assert args.transport == "http"
    assert args.host == "0.0.0.0"
    assert args.port == 8000
    assert args.config is not None
    assert image_path_source(stage_files(dockerfile, dockerfile.final), args.config) == CONTAINER_CONFIG


def test_the_entrypoint_is_an_init_that_passes_the_command_through(dockerfile: Dockerfile) -> None:
    entrypoint = dockerfile.final.last("ENTRYPOINT").exec_form()
    assert entrypoint == ["/usr/bin/tini", "--"]
    assert any("install" in i.text and "tini" in i.text for i in dockerfile.final.all("RUN"))


def test_the_healthcheck_probes_healthz_on_the_port_the_command_serves(dockerfile: Dockerfile) -> None:
    healthcheck = dockerfile.final.last("HEALTHCHECK")
    interpreter, script, url = healthcheck.exec_form()
    assert interpreter == "python"
    assert image_path_source(stage_files(dockerfile, dockerfile.final), script) == HEALTHCHECK_SCRIPT
    host, port, path = url_parts(url)
    assert host in LOOPBACK
    assert port == serve_args(image_cmd(dockerfile)).port
    assert path == "/healthz"
    assert path in proxy_routes()
    assert {"interval", "timeout", "retries"} <= set(healthcheck.flags())


def test_the_image_exposes_the_proxy_and_chat_ports(dockerfile: Dockerfile) -> None:
    exposed = {int(port) for port in dockerfile.final.last("EXPOSE").body().split()}
    assert serve_args(image_cmd(dockerfile)).port in exposed
    assert ChatSettings.model_fields["port"].default in exposed


def test_the_image_installs_the_project_with_the_makefiles_pip_command(dockerfile: Dockerfile) -> None:
    """Same pip steps as `make install`; the two differences are deliberate and checked here."""
    make_pip = [argv for argv in make_recipe("$(STAMP)") if argv[1:3] == ["-m", "pip"]]
    build = dockerfile.stage("build")
    image_pip = [argv for i in build.all("RUN") for argv in i.shell_commands() if argv[1:3] == ["-m", "pip"]]
    assert len(make_pip) == len(image_pip) == 2
    # Both upgrade pip first with the identical command (only the interpreter's path differs).
    assert make_pip[0][1:] == image_pip[0][1:] == ["-m", "pip", "install", "--quiet", "--upgrade", "pip"]
    assert Path(make_pip[0][0]).name == "python" and image_pip[0][0] == "python"
    # Then the project: the Makefile installs `-e '.[dev,otel]'`, the image `.[otel]` (trace export
    # is optional, and an image is where operators turn it on with OTEL_* variables).
    assert make_pip[1][1:] == ["-m", "pip", "install", "--quiet", "-e", ".[dev,otel]"]
    assert image_pip[1][1:] == ["-m", "pip", "install", "--quiet", ".[otel]"]
    # `-e` only links the checkout into the venv; the image's venv must stand on its own.
    # `[dev]` adds only test and lint tools, which nothing at run time imports.
    dev = [
        re.split(r"[<>=!~\[ ]", requirement)[0].lower()
        for requirement in PYPROJECT["project"]["optional-dependencies"]["dev"]
    ]
    runtime = {re.split(r"[<>=!~\[ ]", r)[0].lower() for r in PYPROJECT["project"]["dependencies"]}
    assert not set(dev) & runtime
    imported = re.compile(rf"^\s*(?:import|from)\s+({'|'.join(d.replace('-', '_') for d in dev)})\b", re.M)
    for package in ("mcp_proxy", "chat_api", "examples"):
        for source in (REPO_ROOT / package).rglob("*.py"):
            assert not imported.search(source.read_text()), f"{source} imports a dev-only tool"


def test_the_image_serves_like_make_run_but_on_every_interface(dockerfile: Dockerfile) -> None:
    # `make run` starts the proxy in the background beside the chat service: take its command line.
    served = re.search(r"(\S*mcp-proxy serve [^&;]*)", make_recipe_text("run"))
    assert served is not None
    make_args = serve_args(shlex.split(served.group(1)))
    image_args = serve_args(image_cmd(dockerfile))
    assert (image_args.transport, image_args.port) == (make_args.transport, make_args.port)
    assert make_args.host in LOOPBACK and image_args.host == "0.0.0.0"


def test_pip_install_in_the_build_stage_has_every_file_it_needs(dockerfile: Dockerfile) -> None:
    build = dockerfile.stage("build")
    install = next(i for i in build.all("RUN") if "pip install" in i.text)
    files = stage_files(dockerfile, build, upto=install)
    workdir = [i.body() for i in build.instructions[: build.instructions.index(install)] if i.keyword == "WORKDIR"][-1]
    needed = ["pyproject.toml", PYPROJECT["project"]["readme"]]
    needed += [pattern.rstrip("*") for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]
    for name in needed:
        assert image_path_source(files, f"{workdir}/{name}") == REPO_ROOT / name, name


def test_every_copied_path_exists_and_is_in_the_build_context(dockerfile: Dockerfile) -> None:
    patterns = dockerignore_patterns()
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            if "from" in copy.flags():
                continue
            for source in copy.copy_sources()[0]:
                assert (REPO_ROOT / source).exists(), source
                assert not dockerignored(source.rstrip("/"), patterns), f"{source} is in .dockerignore"
    # Local state never reaches the context.
    for local in (".venv/bin/python", ".git/HEAD", "examples/data/shop.db", "examples/servers/__pycache__/x.pyc"):
        assert dockerignored(local, patterns), local


def test_the_image_has_every_example_server_the_container_config_starts(dockerfile: Dockerfile) -> None:
    files = stage_files(dockerfile, dockerfile.final)
    config = load_config(CONTAINER_CONFIG, environ={})
    workdir = dockerfile.final.last("WORKDIR").body()
    for server in config.servers:
        # Run by the proxy's own interpreter, whatever PATH the container gives it.
        assert server.module is not None and server.command is None
        assert str(server.cwd) == workdir
        module = server.module.replace(".", "/") + ".py"
        assert image_path_source(files, f"{workdir}/{module}") == REPO_ROOT / module


def test_the_build_stage_makes_the_sample_database_where_the_container_config_reads_it(
    dockerfile: Dockerfile, tmp_path: Path
) -> None:
    build = dockerfile.stage("build")
    step = next(i for i in build.all("RUN") if "ensure_sample_database" in i.text)
    # The database is built relative to the examples package, which the build stage copies here:
    examples_folder = next(
        path for path, repo in stage_files(dockerfile, build).items() if repo == REPO_ROOT / "examples"
    )
    built_at = f"{examples_folder}/{DEFAULT_DB_PATH.relative_to(REPO_ROOT / 'examples').as_posix()}"
    database = next(s for s in load_config(CONTAINER_CONFIG, environ={}).servers if s.name == "database")
    assert database.env["DB_PATH"].get_secret_value() == built_at
    # ...and run the very commands on the examples as the build context has them (no local database).
    patterns = dockerignore_patterns()

    def left_out(folder: str, names: list[str]) -> list[str]:
        relative = Path(folder).relative_to(REPO_ROOT).as_posix()
        return [name for name in names if dockerignored(f"{relative}/{name}", patterns)]

    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples", ignore=left_out)
    assert not (tmp_path / "examples" / "data" / "shop.db").exists()
    for argv in step.shell_commands():
        subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, check=True, timeout=60)
    assert (tmp_path / "examples" / "data" / "shop.db").stat().st_size > 0


# ---- the container configuration ------------------------------------------------------------------


def test_the_container_config_loads_with_an_empty_environment() -> None:
    config = load_config(CONTAINER_CONFIG, environ={})
    assert [s.name for s in config.servers] == ["database", "github", "files"]
    assert all(s.transport == "stdio" and s.enabled for s in config.servers)
    assert "proxy" in config.security.allowed_hosts
    assert not config.security.auth_tokens  # tokens come from the environment, never from the file


def test_the_container_config_runs_the_same_servers_as_servers_toml() -> None:
    default = load_config(REPO_ROOT / "servers.toml", environ={})
    container = load_config(CONTAINER_CONFIG, environ={})
    assert server_table(container) == server_table(default)


def test_the_container_config_honours_overrides_from_the_environment() -> None:
    config = load_config(CONTAINER_CONFIG, environ={"DB_PATH": "/data/other.db", "FILES_ROOT": "/data/files"})
    env = {s.name: {k: v.get_secret_value() for k, v in s.env.items()} for s in config.servers}
    assert env["database"]["DB_PATH"] == "/data/other.db"
    assert env["files"]["FILES_ROOT"] == "/data/files"


# ---- compose.yaml ---------------------------------------------------------------------------------


def compose_env(service: Mapping[str, Any], shell: Mapping[str, str]) -> dict[str, str]:
    """A service's environment as the container sees it: `${...}` expanded from `shell` (the same
    rules as compose), and keys without a value passed through only when the shell has them."""
    raw = cast(dict[str, str | None], service.get("environment", {}))
    present = {k: v for k, v in raw.items() if v is not None}
    expanded, problems = expand_tree(present, shell)
    assert not problems, problems
    passed = {k: shell[k] for k, v in raw.items() if v is None and k in shell}
    return {**cast(dict[str, str], expanded), **passed}


SHELL = {"MANIFOLD_CHAT_TOKEN": "chat-secret", "MANIFOLD_CLIENT_TOKENS": "ide-secret"}


def test_compose_runs_the_proxy_and_the_chat_service_from_one_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"proxy", "chat"}
    assert services["proxy"]["image"] == services["chat"]["image"]
    assert services["proxy"]["build"]["context"] == "."
    proxy = serve_args(services["proxy"]["command"])
    assert proxy.transport == "http" and proxy.host == "0.0.0.0"
    assert Path(proxy.config) == Path("/app") / CONTAINER_CONFIG.relative_to(REPO_ROOT)
    assert services["chat"]["command"] == ["python", "-m", "chat_api"]
    assert (REPO_ROOT / "chat_api" / "__main__.py").is_file()
    assert services["chat"]["depends_on"]["proxy"]["condition"] == "service_healthy"


def test_compose_publishes_the_ports_the_services_listen_on_to_loopback_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    proxy_port = serve_args(services["proxy"]["command"]).port
    chat_port = int(compose_env(services["chat"], SHELL)["CHAT_API_PORT"])
    for name, port in (("proxy", proxy_port), ("chat", chat_port)):
        (published,) = services[name]["ports"]
        host, host_port, container_port = published.split(":")
        assert host == "127.0.0.1"
        assert int(host_port) == int(container_port) == port


def test_compose_healthchecks_probe_healthz_of_each_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {
        "proxy": (serve_args(services["proxy"]["command"]).port, proxy_routes()),
        "chat": (int(compose_env(services["chat"], SHELL)["CHAT_API_PORT"]), chat_routes()),
    }
    for name, (port, routes) in expected.items():
        test = services[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "/app/deploy/healthcheck.py"]
        host, probed_port, path = url_parts(test[3])
        assert host in LOOPBACK and probed_port == port
        assert path == "/healthz" and path in routes


def test_compose_gives_the_chat_service_the_proxy_url_and_a_token_the_proxy_accepts(compose: dict[str, Any]) -> None:
    services = compose["services"]
    proxy_env = compose_env(services["proxy"], SHELL)
    chat_env = compose_env(services["chat"], SHELL)
    host, port, path = url_parts(chat_env["MCP_SERVER_URL"])
    assert host == "proxy" and host in load_config(CONTAINER_CONFIG, environ={}).security.allowed_hosts
    assert port == serve_args(services["proxy"]["command"]).port
    assert path == MCP_PATH
    accepted = RuntimeSettings.model_validate({"auth_tokens": proxy_env["MCP_PROXY_AUTH_TOKENS"]}).tokens()
    assert [t.get_secret_value() for t in accepted] == ["chat-secret", "ide-secret"]
    assert chat_env["MCP_SERVER_TOKEN"] == "chat-secret"


def test_compose_refuses_to_start_without_the_chat_token(compose: dict[str, Any]) -> None:
    raw = compose["services"]["proxy"]["environment"]["MCP_PROXY_AUTH_TOKENS"]
    _, problems = expand_tree({"MCP_PROXY_AUTH_TOKENS": raw}, {})
    assert problems and "MANIFOLD_CHAT_TOKEN" in str(problems[0].message)
    # Without other client tokens the list is just the chat token.
    expanded, _ = expand_tree({"v": raw}, {"MANIFOLD_CHAT_TOKEN": "t"})
    assert RuntimeSettings.model_validate({"auth_tokens": expanded["v"]}).tokens()[0].get_secret_value() == "t"


def test_compose_sets_only_environment_variables_the_services_read(compose: dict[str, Any]) -> None:
    proxy_reads = settings_env_names(RuntimeSettings)
    chat_reads = settings_env_names(ChatSettings)
    assert set(compose["services"]["proxy"]["environment"]) <= proxy_reads
    assert set(compose["services"]["chat"]["environment"]) <= chat_reads


def test_the_chat_service_reads_the_token_the_deployment_files_give_it() -> None:
    assert "MCP_SERVER_TOKEN" in settings_env_names(ChatSettings)


# ---- Kubernetes -----------------------------------------------------------------------------------


def container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_list(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("env", []))


def container_port(spec: Mapping[str, Any], port: int | str) -> int:
    """A probe's or Service's port (a number or a port name) as the container's port number."""
    for declared in spec["ports"]:
        if port in (declared["containerPort"], declared.get("name")):
            return int(declared["containerPort"])
    raise AssertionError(f"port {port!r} is not declared by the container")


def expand_k8s_env(spec: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: `$(VAR)` refers to variables
    defined earlier in the list; values from Secrets and fields come from `given`."""
    env: dict[str, str] = {}
    for entry in env_list(spec):
        if "value" in entry:
            value = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), entry["value"])
            assert "$(" not in value, f"{entry['name']} refers to a variable not defined before it"
            env[entry["name"]] = value
        else:
            env[entry["name"]] = given[entry["name"]]
    return env


def secret_refs(spec: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in env_list(spec)
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def test_every_kubernetes_file_parses_and_the_kustomization_lists_real_files() -> None:
    kinds: list[str] = []
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml_documents(path):
            assert document["apiVersion"] and document["kind"], path.name
            kinds.append(str(document["kind"]))
            if document["kind"] != "Kustomization":
                assert document["metadata"]["name"], path.name
    assert {"Deployment", "Service", "ConfigMap", "Secret", "Ingress", "Kustomization"} <= set(kinds)
    (kustomization,) = yaml_documents(K8S / "kustomization.yaml")
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    # The Secret and the Ingress are examples to adapt, never applied as they are.
    assert "secret.example.yaml" not in kustomization["resources"]
    assert "ingress-sticky.example.yaml" not in kustomization["resources"]


def test_the_proxy_deployment_serves_http_with_the_cli_flags(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    proxy = container(k8s[("Deployment", "manifold-proxy")])
    args = serve_args(proxy["args"])
    assert args.transport == "http" and args.host == "0.0.0.0"
    assert container_port(proxy, "http") == args.port


def test_the_proxy_probes_use_the_apps_liveness_and_readiness_routes(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    proxy = container(k8s[("Deployment", "manifold-proxy")])
    port = serve_args(proxy["args"]).port
    routes = proxy_routes()
    expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in expected.items():
        get = proxy[probe]["httpGet"]
        assert get["path"] == path and path in routes
        assert container_port(proxy, get["port"]) == port


def test_the_configmap_servers_toml_is_mounted_where_the_proxy_reads_it_and_loads(
    k8s: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    deployment = k8s[("Deployment", "manifold-proxy")]
    proxy = container(deployment)
    config_path = Path(serve_args(proxy["args"]).config)
    (mount,) = [m for m in proxy["volumeMounts"] if Path(m["mountPath"]) == config_path.parent]
    assert "subPath" not in mount  # a subPath mount never sees ConfigMap updates, so reloads would not happen
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    configmap = k8s[("ConfigMap", volume["configMap"]["name"])]
    written = tmp_path / config_path.name
    written.write_text(configmap["data"][config_path.name])
    config = load_config(written, environ={})
    assert server_table(config) == server_table(load_config(CONTAINER_CONFIG, environ={}))
    assert "manifold-proxy" in config.security.allowed_hosts


def test_the_proxy_tokens_come_from_the_secret_and_include_the_chat_token(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    secret = k8s[("Secret", "manifold-tokens")]
    proxy = container(k8s[("Deployment", "manifold-proxy")])
    refs = secret_refs(proxy)
    assert refs and all(name == "manifold-tokens" and key in secret["stringData"] for name, key in refs.values())
    values = {"chat-token": "chat-secret", "client-tokens": "ide-secret,ci-secret"}
    given = {var: values[key] for var, (_, key) in refs.items()} | {"POD_NAMESPACE": "tools"}
    env = expand_k8s_env(proxy, given)
    settings = RuntimeSettings.model_validate({"auth_tokens": env["MCP_PROXY_AUTH_TOKENS"]})
    assert [t.get_secret_value() for t in settings.tokens()] == ["chat-secret", "ide-secret", "ci-secret"]
    # An empty client-tokens key leaves the chat token alone.
    env = expand_k8s_env(proxy, given | {var: "" for var, (_, key) in refs.items() if key == "client-tokens"})
    assert RuntimeSettings.model_validate({"auth_tokens": env["MCP_PROXY_AUTH_TOKENS"]}).tokens()
    assert set(env) - {"POD_NAMESPACE"} - set(refs) <= settings_env_names(RuntimeSettings)


def test_the_proxy_accepts_its_service_names_as_host(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    proxy = container(k8s[("Deployment", "manifold-proxy")])
    env = expand_k8s_env(proxy, {"POD_NAMESPACE": "tools"} | dict.fromkeys(secret_refs(proxy), "x"))
    hosts = RuntimeSettings.model_validate({"allowed_hosts": env["MCP_PROXY_ALLOWED_HOSTS"]}).extra_hosts()
    assert "manifold-proxy.tools.svc" in hosts
    assert "manifold-proxy.tools.svc.cluster.local" in hosts


def test_each_service_selects_its_pods_and_targets_a_declared_container_port(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    pairs = {"manifold-proxy": "manifold-proxy", "manifold-chat": "manifold-chat"}
    for service_name, deployment_name in pairs.items():
        service = k8s[("Service", service_name)]
        deployment = k8s[("Deployment", deployment_name)]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for port in service["spec"]["ports"]:
            assert container_port(container(deployment), port["targetPort"]) == port["port"]


def test_the_chat_deployment_reaches_the_proxy_service_with_the_secrets_chat_token(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    chat = container(k8s[("Deployment", "manifold-chat")])
    assert chat["args"] == ["python", "-m", "chat_api"]
    env = chat_pod_env(chat)
    host, port, path = url_parts(env["MCP_SERVER_URL"])
    service = k8s[("Service", host)]
    assert port == service["spec"]["ports"][0]["port"]
    assert path == MCP_PATH
    assert secret_refs(chat)["MCP_SERVER_TOKEN"] == ("manifold-tokens", "chat-token")
    assert container_port(chat, "http") == int(env["CHAT_API_PORT"])
    assert set(env) - {"POD_NAMESPACE"} <= settings_env_names(ChatSettings) | {"MCP_SERVER_TOKEN"}
    routes = chat_routes()
    for probe, expected in (("livenessProbe", "/healthz"), ("readinessProbe", "/health")):
        assert chat[probe]["httpGet"]["path"] == expected and expected in routes
        assert container_port(chat, chat[probe]["httpGet"]["port"]) == int(env["CHAT_API_PORT"])


def chat_pod_env(chat: Mapping[str, Any]) -> dict[str, str]:
    return expand_k8s_env(chat, dict.fromkeys(secret_refs(chat), "chat-secret") | {"POD_NAMESPACE": "tools"})


def chat_app_for(env: Mapping[str, str]) -> Any:
    settings = ChatSettings.model_validate(
        {
            "host": env["CHAT_API_HOST"],
            "port": int(env["CHAT_API_PORT"]),
            "allowed_hosts": env.get("CHAT_API_ALLOWED_HOSTS", ""),
            "MCP_SERVER_URL": env["MCP_SERVER_URL"],
        }
    )
    return create_chat_app(settings)


@pytest.mark.anyio
async def test_the_chat_probes_name_a_host_the_service_accepts(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    chat = container(k8s[("Deployment", "manifold-chat")])
    app = chat_app_for(chat_pod_env(chat))
    get = chat["livenessProbe"]["httpGet"]
    assert get == chat["readinessProbe"]["httpGet"] | {"path": get["path"]}
    headers = {h["name"]: h["value"] for h in get["httpHeaders"]}
    assert await asgi_status(app, get["path"], headers) == 200
    # What the kubelet sends without the header, the pod's address, is refused.
    assert await asgi_status(app, get["path"], {"Host": "10.0.0.9:8001"}) == 400
    # Clients in the cluster use the Service's names.
    assert await asgi_status(app, get["path"], {"Host": "manifold-chat.tools.svc:8001"}) == 200


@pytest.mark.anyio
async def test_the_proxy_answers_probes_on_any_host_and_mcp_on_its_service_names(
    k8s: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    proxy = container(k8s[("Deployment", "manifold-proxy")])
    env = expand_k8s_env(proxy, dict.fromkeys(secret_refs(proxy), "secret") | {"POD_NAMESPACE": "tools"})
    written = tmp_path / "servers.toml"
    written.write_text(k8s[("ConfigMap", "manifold-proxy-config")]["data"]["servers.toml"])
    args = serve_args(proxy["args"])
    settings = RuntimeSettings.model_validate(
        {"auth_tokens": env["MCP_PROXY_AUTH_TOKENS"], "allowed_hosts": env["MCP_PROXY_ALLOWED_HOSTS"]}
    )
    app = build_http_app(load_config(written, environ={}), FrontOptions.from_settings(settings, args.host))
    pod_ip = {"Host": "10.0.0.9:8000"}
    assert await asgi_status(app, "/healthz", pod_ip) == 200
    assert await asgi_status(app, "/readyz", pod_ip) == 503  # refused only because nothing runs here
    # /mcp: past the Host check (then 401: no token) for the Service's names, 421 for others.
    for name in ("manifold-proxy", "manifold-proxy.tools.svc", "manifold-proxy.tools.svc.cluster.local"):
        assert await asgi_status(app, MCP_PATH, {"Host": f"{name}:8000"}) == 401
    assert await asgi_status(app, MCP_PATH, pod_ip) == 421


def test_the_pods_run_as_the_images_unprivileged_user_on_a_read_only_root(
    k8s: dict[tuple[str, str], dict[str, Any]], dockerfile: Dockerfile
) -> None:
    for name in ("manifold-proxy", "manifold-chat"):
        pod = k8s[("Deployment", name)]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == image_user_id(dockerfile)
        assert pod["enableServiceLinks"] is False
        security = container(k8s[("Deployment", name)])["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False


def test_the_sticky_ingress_example_routes_mcp_by_session_header_to_the_proxy_service(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    from mcp.server.streamable_http import MCP_SESSION_ID_HEADER

    ingress = k8s[("Ingress", "manifold-proxy")]
    snippet = ingress["metadata"]["annotations"]["haproxy.org/backend-config-snippet"]
    assert f"stick match req.hdr({MCP_SESSION_ID_HEADER})" in snippet
    assert f"stick store-response res.hdr({MCP_SESSION_ID_HEADER})" in snippet
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == MCP_PATH
    backend = path["backend"]["service"]
    service = k8s[("Service", backend["name"])]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    # In-cluster clients bypass the Ingress: the Service itself keeps each on one replica.
    assert service["spec"]["sessionAffinity"] == "ClientIP"


# ---- systemd ---------------------------------------------------------------------------------------


def test_the_systemd_unit_starts_the_proxy_with_real_flags_as_an_unprivileged_user() -> None:
    unit = systemd_unit(DEPLOY / "systemd" / "manifold-proxy.service")
    service = unit["Service"]
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start)
    assert Path(argv[0]).name in PYPROJECT["project"]["scripts"]
    args = serve_args(argv)
    assert args.transport == "http" and args.host in LOOPBACK
    assert args.config and Path(args.config).is_absolute()
    assert service["User"] != [] and service["User"][0] not in ROOT_USERS
    # The proxy re-reads its configuration on SIGHUP.
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert any(value.startswith("PATH=" + str(Path(argv[0]).parent)) for value in service["Environment"])
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


# ---- the health check script -----------------------------------------------------------------------


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def health_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _healthcheck(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK_SCRIPT), url], capture_output=True, text=True, timeout=30, check=False
    )


def test_the_healthcheck_script_passes_on_2xx_and_fails_otherwise(health_server: str) -> None:
    assert _healthcheck(f"{health_server}/healthz").returncode == 0
    failed = _healthcheck(f"{health_server}/other")
    assert failed.returncode == 1 and "HTTP 503" in failed.stderr


def test_the_healthcheck_script_fails_when_nothing_listens() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Health) as server:
        port = server.server_address[1]
    failed = _healthcheck(f"http://127.0.0.1:{port}/healthz")
    assert failed.returncode == 1 and "unreachable" in failed.stderr


# ---- docs -----------------------------------------------------------------------------------------


def test_the_deployment_guide_names_only_files_that_exist() -> None:
    text = (REPO_ROOT / "docs" / "DEPLOYMENT.md").read_text()
    named = set(re.findall(r"`((?:deploy/|compose\.yaml|Dockerfile|\.dockerignore)[^`\s]*)`", text))
    assert {"Dockerfile", "compose.yaml", "deploy/servers.container.toml"} <= named
    for path in named:
        assert (REPO_ROOT / path).exists(), path
