"""What the proxy and the chat service share, importing neither: logging, secret redaction,
backoff, failure texts, stream helpers and the names both sides agree on."""
