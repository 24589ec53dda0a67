"""The chat service reaches a proxy that requires a bearer token when it is given that token."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from .support import (
    POLL_INTERVAL,
    WAIT_DEADLINE,
    chat_settings,
    proxy_over_http,
    running_chat_api,
    write_proxy_config,
)

pytestmark = pytest.mark.anyio

TOKEN = "chat-link-token-4f1c"


def protected_config(folder: Path) -> Path:
    path = write_proxy_config(folder)
    path.write_text(path.read_text() + f'\n[security]\nauth_tokens = ["{TOKEN}"]\n')
    return path


async def test_with_the_token_the_link_is_ready_and_without_it_it_is_refused(tmp_path: Path) -> None:
    async with proxy_over_http(protected_config(tmp_path)) as proxy:
        url = proxy.ready["url"]
        with_token = chat_settings(None, mcp_server_url=url, mcp_server_token=SecretStr(TOKEN))
        async with running_chat_api(with_token) as service:
            health = await service.health()
        without = chat_settings(None, mcp_server_url=url)
        async with running_chat_api(without, wait_ready=False) as refused:
            link = refused.services.link
            with anyio.fail_after(WAIT_DEADLINE):
                while link.connections == 0 and link.last_error is None:
                    await anyio.sleep(POLL_INTERVAL)
            refused_ready, refused_error = link.ready, link.last_error
    assert health["initialized"] is True
    assert health["mode"] == "multi"
    assert refused_ready is False
    assert refused_error is not None
