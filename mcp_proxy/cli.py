"""The `mcp-proxy` command line: serve, check, tools, login, logout, import."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import anyio
from pydantic import ValidationError

from manifold_common.logging import LOG_LEVELS, LogFormat, configure_logging, get_logger
from manifold_common.redaction import PROCESS_SECRETS, secret_values

from . import __version__
from .config.loading import CONFIG_PATH_ENV, CONFIG_SEARCH_PATHS, discover_config_path, load_config
from .config.models import ProxyConfig
from .config.render import import_file
from .core.errors import ConfigError
from .event_loop import EventLoopUnavailable, LoopName
from .event_loop import resolve as resolve_event_loop
from .settings import FrontTransport, RuntimeSettings, settings_problems
from .upstream.launch_check import launch_problems
from .upstream.prelaunch import Prelaunched

if TYPE_CHECKING:
    from .http_app import FrontOptions
    from .sign_in_command import Console

log = get_logger(__name__)

EXIT_OK = 0
EXIT_CONFIG_ERROR = 1
EXIT_USAGE = 2

_EPILOG = """\
examples:
  mcp-proxy serve                                   stdio front (what Claude Desktop / IDEs launch)
  mcp-proxy serve --transport http --port 8000      streamable HTTP at /mcp, legacy SSE at /sse
  mcp-proxy check --config servers.toml             validate a config and show the resolved servers
  mcp-proxy tools                                   connect and print the merged tool table
  mcp-proxy tools diff github__search_code          show how a pinned tool's definition changed
  mcp-proxy tools approve github__search_code       accept the change (or --all)
  mcp-proxy login github                            sign in to a server that uses OAuth (a browser opens)
  mcp-proxy import claude-desktop > servers.toml    convert a Claude Desktop config

The configuration is found in this order: --config, $MCP_CONFIG_PATH, ./servers.toml,
config/mcp-servers.json, /etc/mcp/servers.json.
"""


class _NoConfiguration(Exception):
    """Nothing names a configuration file and none of the default locations has one."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="mcp-proxy",
        description="Manifold: one MCP endpoint in front of many MCP servers.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def with_common(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--config", "-c", help="configuration file (servers.toml, or a JSON form)")
        sub.add_argument("--log-level", choices=LOG_LEVELS, type=str.upper, help="default: INFO (env LOG_LEVEL)")
        sub.add_argument("--log-format", choices=get_args(LogFormat), help="default: auto (console on a terminal)")
        sub.add_argument("--log-file", type=Path, help="also write JSON events to this file, rotated by size")
        return sub

    serve = with_common(commands.add_parser("serve", help="serve the proxy (stdio or HTTP)", epilog=_EPILOG))
    serve.add_argument("--transport", "-t", choices=get_args(FrontTransport), help="default: stdio")
    serve.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", "-p", type=int, help="HTTP port (default 8000; 0 picks a free one)")
    serve.add_argument(
        "--http-port",
        type=int,
        help="with --transport stdio: serve /healthz, /readyz, /health and /metrics on 127.0.0.1:PORT",
    )
    serve.add_argument(
        "--profile", help="with --transport stdio: serve the [profiles.NAME] view instead of the whole catalog"
    )

    with_common(
        commands.add_parser(
            "check", help="validate the configuration, check that every stdio server can start, show the servers"
        )
    )
    tools = with_common(
        commands.add_parser(
            "tools",
            help="connect to every server and print the merged tools; or review pinned definitions",
            description="Without ACTION: connect and print the merged tools. "
            "pins: list pinned tools; diff [NAME]: show changed definitions; approve NAME|--all: accept them.",
        )
    )
    tools.add_argument("action", nargs="?", choices=["pins", "diff", "approve"], help="review pinned definitions")
    tools.add_argument("name", nargs="?", help="a tool as clients see it (github__search_code) or server/tool")
    tools.add_argument("--all", action="store_true", help="with approve: every changed or held tool")
    tools.add_argument("--json", action="store_true", help="print JSON instead of a table")

    login = with_common(commands.add_parser("login", help="sign the proxy in to a server that uses OAuth"))
    login.add_argument("server", help="the server's name in the configuration")
    login.add_argument("--no-browser", action="store_true", help="print the sign-in URL instead of opening it")
    login.add_argument("--port", type=int, help="loopback port for the browser to come back to (default: a free one)")
    logout = with_common(commands.add_parser("logout", help="delete the tokens kept for a server"))
    logout.add_argument("server", help="the server's name in the configuration")

    importer = commands.add_parser("import", help="print the servers.toml equivalent of another client's config")
    importer.add_argument("kind", choices=["claude-desktop", "vscode", "cursor"])
    importer.add_argument("path", nargs="?", help="the file to import (default: the client's usual location)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mcp-proxy` console script."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help(sys.stderr)
        return EXIT_USAGE
    try:
        settings = RuntimeSettings()
    except ValidationError as exc:
        print(f"mcp-proxy: {settings_problems(exc)}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if args.command == "import":
        return _import(args)
    quiet_by_default = args.command in ("check", "tools", "login", "logout")
    level = args.log_level or ("WARNING" if quiet_by_default and "log_level" not in settings.model_fields_set else None)
    configure_logging(
        level or settings.log_level, args.log_format or settings.log_format, log_file=args.log_file or settings.log_file
    )
    try:
        config = _load(args.config)
    except ConfigError as exc:
        print(f"mcp-proxy: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except _NoConfiguration:
        print(f"mcp-proxy: {no_configuration_message()}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    # From here on, no configured secret value can reach a log line or a status document.
    PROCESS_SECRETS.register(
        [*secret_values(config), *(t.get_secret_value() for t in settings.tokens()), *token_store_secrets(config)]
    )
    if args.command == "check":
        # A server that cannot start fails the check: the file is valid, yet it cannot serve as written.
        if problems := launch_problems(config):
            print(f"mcp-proxy: {ConfigError(problems)}", file=sys.stderr)
            return EXIT_CONFIG_ERROR
        sign_ins: dict[str, str] = {}
        if any(server.auth is not None for server in config.servers):
            # Only servers that sign in need the token store and the SDK's OAuth models.
            from .sign_in_command import describe_sign_ins

            sign_ins = describe_sign_ins(config)
        print(render_check(config, sign_ins))
        return EXIT_OK
    if args.command == "tools" and args.action is not None:
        from .sign_in_command import Console

        return review_pins(args, config, Console(out=sys.stdout, err=sys.stderr))
    if args.command == "tools":
        return anyio.run(_print_tools, config, args.json)
    if args.command in ("login", "logout"):
        from .sign_in_command import Console, run_sign_in_command

        return run_sign_in_command(args, config, Console(out=sys.stdout, err=sys.stderr))
    return _serve(args, settings, config)


def review_pins(args: argparse.Namespace, config: ProxyConfig, console: Console) -> int:
    """`mcp-proxy tools pins | diff [NAME] | approve NAME|--all`, on the configured pin store."""
    from .upstream.pin_review import NoSuchPin, approve, render_diff, render_pins
    from .upstream.pin_store import PinStore, PinStoreError, default_pins_path

    if args.action == "approve" and (args.name is None) == (not args.all):
        console.tell("mcp-proxy: tools approve takes a tool name or --all (not both)")
        return EXIT_USAGE
    try:
        store = PinStore(config.proxy.pins_path or default_pins_path())
    except PinStoreError as exc:
        console.tell(f"mcp-proxy: {exc}")
        return EXIT_CONFIG_ERROR
    try:
        if args.action == "pins":
            console.say(render_pins(store))
        elif args.action == "diff":
            console.say(render_diff(store, args.name))
        else:
            approved = approve(store, args.name)
            for pin in approved:
                console.say(f"approved {pin.exposed} ({pin.server}/{pin.tool})")
            if not approved:
                console.tell("mcp-proxy: nothing to approve: no changed or held tool" + _named(args.name))
    except NoSuchPin as exc:
        console.tell(f"mcp-proxy: {exc}")
        return EXIT_CONFIG_ERROR
    finally:
        store.close()
    return EXIT_OK


def _named(name: str | None) -> str:
    return f" named {name!r}" if name else ""


def token_store_secrets(config: ProxyConfig) -> list[str]:
    """The token store's own secrets: its sealing key, and a Redis password."""
    from .upstream.token_store import TOKEN_KEY_ENV

    found = [key] if (key := os.environ.get(TOKEN_KEY_ENV)) else []
    store = config.proxy.token_store
    password = urlsplit(store.get_secret_value()).password if store is not None else None
    return [*found, *([password] if password else [])]


def _load(explicit: str | None) -> ProxyConfig:
    path = discover_config_path(explicit)
    if path is None:
        raise _NoConfiguration
    return load_config(path)


def no_configuration_message() -> str:
    """What to do when no configuration file can be found: where we looked and how to make one."""
    searched = ", ".join(f"./{p}" if not p.is_absolute() else str(p) for p in CONFIG_SEARCH_PATHS)
    return (
        "no configuration file found.\n"
        f"  Looked at --config, ${CONFIG_PATH_ENV}, then {searched}.\n"
        "  Pass --config PATH, set MCP_CONFIG_PATH, or create ./servers.toml (see docs/CONFIGURATION.md);\n"
        "  `mcp-proxy import claude-desktop > servers.toml` converts an existing Claude Desktop setup."
    )


def _import(args: argparse.Namespace) -> int:
    try:
        text = import_file(args.kind, Path(args.path) if args.path else None)
    except ConfigError as exc:
        print(f"mcp-proxy: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    sys.stdout.write(text)
    return EXIT_OK


def _serve(args: argparse.Namespace, settings: RuntimeSettings, config: ProxyConfig) -> int:
    if (problem := _profile_problem(args, settings, config)) is not None:
        print(f"mcp-proxy: {problem}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    # The stdio children start importing their SDK now, while the proxy imports its own. Leaving
    # the block kills the children no connection adopted (the proxy stopped first).
    with Prelaunched() as children:
        children.launch_all(config)
        return _serve_front(args, settings, config, children)


def _profile_problem(args: argparse.Namespace, settings: RuntimeSettings, config: ProxyConfig) -> str | None:
    """Why `--profile` cannot be served, or None (also when it is not given)."""
    if args.profile is None:
        return None
    if (args.transport or settings.transport) != "stdio":
        return "--profile applies to --transport stdio; over HTTP each profile is served at /mcp/NAME and /sse/NAME"
    if args.profile not in config.profiles:
        known = ", ".join(sorted(config.profiles)) or "none are configured"
        source = config.source or "the configuration"
        return f"--profile {args.profile!r}: {source} has no [profiles.{args.profile}]; the profiles are: {known}"
    return None


def _serve_front(
    args: argparse.Namespace, settings: RuntimeSettings, config: ProxyConfig, children: Prelaunched
) -> int:
    from .app import serve_stdio
    from .front.tracing import install_from_environment
    from .http_app import FrontOptions
    from .listeners import SIDE_LISTENER_HOST, browsable_url, listening_socket

    install_from_environment()  # before the server is built: it keeps the SDK's tracing only with a provider
    transport: FrontTransport = args.transport or settings.transport
    try:
        loop = resolve_event_loop(settings.event_loop)
    except EventLoopUnavailable as exc:
        print(f"mcp-proxy: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if transport == "stdio":
        http_port = settings.http_port if args.http_port is None else args.http_port
        if http_port is None:
            serve = partial(
                serve_stdio,
                config,
                prelaunched=children,
                drain_timeout=settings.drain_timeout,
                fast_path=settings.fast_path,
                profile=args.profile,
            )
            anyio.run(serve, backend_options={"use_uvloop": loop == "uvloop"})
        else:
            sock = listening_socket(SIDE_LISTENER_HOST, http_port)
            _serve_stdio_with_side_listener(config, sock, settings, loop, children, args.profile)
        return EXIT_OK
    options = FrontOptions.from_settings(settings, args.host)
    port = settings.port if args.port is None else args.port
    sock = listening_socket(options.host, port)
    options = replace(options, own_url=browsable_url(sock))
    _serve_http(config, sock, options, settings.drain_timeout, loop, children)
    return EXIT_OK


def _serve_stdio_with_side_listener(
    config: ProxyConfig,
    sock: socket.socket,
    settings: RuntimeSettings,
    loop: LoopName,
    children: Prelaunched,
    profile: str | None,
) -> None:
    from .front.auth import configured_tokens
    from .listeners import serve_stdio_with_side_listener

    tokens = configured_tokens(config.security, settings.tokens())
    serve = partial(
        serve_stdio_with_side_listener,
        config,
        sock,
        tokens,
        settings.metrics_auth,
        prelaunched=children,
        drain_timeout=settings.drain_timeout,
        fast_path=settings.fast_path,
        profile=profile,
    )
    anyio.run(serve, backend_options={"use_uvloop": loop == "uvloop"})


def _serve_http(
    config: ProxyConfig,
    sock: socket.socket,
    options: FrontOptions,
    drain_timeout: float,
    loop: LoopName,
    children: Prelaunched,
) -> None:
    import uvicorn

    from .front.http_shutdown import DrainingServer, FrontActivity
    from .http_app import MCP_PATH, MESSAGES_PATH, SSE_PATH, build_http_app
    from .listeners import socket_url

    activity = FrontActivity()
    app = build_http_app(config, options, activity=activity, prelaunched=children)
    uvicorn_config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", loop=loop)
    server = DrainingServer(uvicorn_config, activity, drain_timeout)
    log.info(
        "http_listening",
        url=socket_url(sock, MCP_PATH),
        sse=socket_url(sock, SSE_PATH),
        messages=socket_url(sock, MESSAGES_PATH),
        health=socket_url(sock, "/health"),
        metrics=socket_url(sock, "/metrics"),
    )
    server.run(sockets=[sock])


def render_check(config: ProxyConfig, sign_ins: Mapping[str, str] | None = None) -> str:
    """The `check` report: every resolved server, without secrets; `sign_ins` says what is kept for each."""
    lines = [f"configuration: {config.source}", ""]
    proxy = config.proxy
    lines.append(
        f"proxy: separator={proxy.separator!r} name_budget={proxy.name_budget} "
        f"startup_timeout={proxy.startup_timeout:g}s page_size={proxy.page_size}"
    )
    lines.append("")
    for server in config.servers:
        target = _shown_url(server.url) if server.url else " ".join(server.command_line)
        state = "enabled" if server.enabled else "disabled"
        prefix = server.exposed_prefix or "(bare names)"
        lines.append(f"{server.name}  [{state}]")
        lines.append(f"  transport: {server.transport}  protocol: {server.protocol}  timeout: {server.timeout:g}s")
        lines.append(f"  target:    {target}")
        if server.cwd is not None:
            lines.append(f"  cwd:       {server.cwd}")
        if server.env:
            lines.append(f"  env:       {', '.join(sorted(server.env))} (values hidden)")
        if server.headers:
            lines.append(f"  headers:   {', '.join(sorted(server.headers))} (values hidden)")
        if server.auth is not None:
            lines.append(f"  auth:      {(sign_ins or {}).get(server.name, server.auth.type)}")
        lines.append(f"  prefix:    {prefix}  priority: {server.priority}")
        if list(server.include_tools) != ["*"] or server.exclude_tools:
            lines.append(f"  tools:     include {list(server.include_tools)} exclude {list(server.exclude_tools)}")
    enabled = sum(1 for s in config.servers if s.enabled)
    lines.append("")
    lines.append(f"{len(config.servers)} server(s), {enabled} enabled: configuration OK")
    return "\n".join(lines)


def _shown_url(url: str) -> str:
    """`url` without the parts that commonly carry credentials: a password and query values."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = "&".join(f"{name}=***" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(netloc=netloc, query=query))


async def _print_tools(config: ProxyConfig, as_json: bool) -> int:
    from manifold_common.proxy_contract import ORIGIN_META_KEY

    from .app import running_proxy

    async with running_proxy(config) as proxy:
        rows: list[dict[str, Any]] = []
        for tool in proxy.registry.catalog.tools:
            origin = (tool.meta or {}).get(ORIGIN_META_KEY, {})
            description = (tool.description or "").strip().splitlines()
            rows.append(
                {
                    "name": tool.name,
                    "server": origin.get("server"),
                    "original": origin.get("name"),
                    "description": description[0] if description else "",
                }
            )
        states = {u.name: (str(u.state), u.last_error) for u in proxy.registry.upstreams.values()}
    if as_json:
        print(json.dumps({"tools": rows, "servers": {k: {"state": s, "error": e} for k, (s, e) in states.items()}}))
        return EXIT_OK
    print(_table(rows, ["name", "server", "original", "description"]))
    print()
    for name, (state, error) in states.items():
        print(f"{name}: {state}" + (f" ({error})" if error else ""))
    return EXIT_OK


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    max_description = 60
    cells = [[str(row[c] or "") for c in columns] for row in rows]
    cells = [[*r[:-1], r[-1][:max_description]] for r in cells]
    widths = [max([len(c.upper()), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    out = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(out)
