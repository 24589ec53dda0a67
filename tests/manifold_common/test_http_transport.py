"""The URL rule both sides use to pick an HTTP transport."""

from __future__ import annotations

import pytest

from manifold_common.http_transport import HTTP_CONNECT_TIMEOUT, HTTP_STREAM_READ_TIMEOUT, transport_for_url


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("http://h:1/sse", "sse"),
        ("http://h:1/sse/", "sse"),
        ("https://h/base/sse?key=1", "sse"),
        ("http://h:1/mcp", "http"),
        ("http://h:1/sse/mcp", "http"),
        ("http://h:1/", "http"),
        ("http://h/ssex", "http"),
    ],
)
def test_a_path_ending_in_sse_means_legacy_sse_and_anything_else_streamable_http(url: str, transport: str) -> None:
    assert transport_for_url(url) == transport


def test_a_stream_may_stay_silent_much_longer_than_a_connection_may_take() -> None:
    assert 0 < HTTP_CONNECT_TIMEOUT < HTTP_STREAM_READ_TIMEOUT
