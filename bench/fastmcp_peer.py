"""A FastMCP server that mounts echo upstreams through FastMCP's proxy, as a benchmark peer.

Run with the interpreter of the FastMCP environment (`bench.peers` creates it), not the
project's: `python fastmcp_peer.py --transport stdio|http --servers JSON`. `--servers` maps each
upstream name to an MCPConfig server entry (a stdio command or an HTTP URL); each upstream is
proxied with `create_proxy` and mounted under its name, so upstream 0's `echo` is `up0_echo`.
Over HTTP the server binds a loopback port itself and writes one readiness line to stderr:
`{"event": "peer_listening", "url": ".../mcp", "pid": ...}`.

It imports nothing from the project, and FastMCP only through `importlib`: the project's own
environment does not have it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import socket
import sys
from typing import Any

READY_EVENT = "peer_listening"


def build(servers: dict[str, dict[str, Any]]) -> Any:
    """The FastMCP server with every upstream proxied and mounted under its name."""
    fastmcp: Any = importlib.import_module("fastmcp")
    server = fastmcp.FastMCP("bench-fastmcp-peer")
    for name, entry in servers.items():
        server.mount(fastmcp.server.create_proxy({"mcpServers": {name: entry}}), namespace=name)
    return server


async def serve_http(server: Any) -> None:
    """Bind a loopback port, announce it, and serve streamable HTTP on it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    # Listening before the announcement: a client that connects early waits in the backlog.
    listener.listen(128)
    port = listener.getsockname()[1]
    ready = {"event": READY_EVENT, "url": f"http://127.0.0.1:{port}/mcp", "pid": os.getpid()}
    print(json.dumps(ready), file=sys.stderr, flush=True)
    await server.run_http_async(show_banner=False, transport="http", log_level="warning", sockets=[listener])


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transport", choices=("stdio", "http"), required=True)
    parser.add_argument("--servers", required=True, help="JSON: upstream name -> MCPConfig server entry")
    args = parser.parse_args()
    server = build(json.loads(args.servers))
    if args.transport == "stdio":
        server.run(transport="stdio", show_banner=False, log_level="warning")
    else:
        asyncio.run(serve_http(server))


if __name__ == "__main__":
    main()
