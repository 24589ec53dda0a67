"""The names through which the proxy and its clients know each other, defined once for both sides.

The chat service reaches the proxy only over MCP, or launches it as a program; these are the
facts of that contract it relies on, so it never has to import the proxy to know them.
"""

from __future__ import annotations

PROXY_SERVER_NAME = "manifold"
"""The name the proxy gives itself in `serverInfo`: a client that sees it is talking to the proxy."""

ORIGIN_META_KEY = "io.manifold/origin"
"""The `_meta` key on every exposed tool, prompt, resource and template that names where it comes from.

Its value is `{"server": <upstream name>, <"name" | "uri" | "uriTemplate">: <the upstream's own>}`,
so a client never has to take an exposed name apart to find its server.
"""

STATUS_URI = "manifold://status"
"""The proxy's own resource: each upstream's state as JSON. Readable and subscribable, never listed."""

CONFIG_PATH_ENV = "MCP_CONFIG_PATH"
"""The environment variable naming the proxy's configuration file; the chat service reads it too."""
