"""How the proxy treats one upstream when things go wrong: reconnects, health checks, the circuit
breaker, timeouts, degradation and limits.

These settings sit on each `[servers.NAME]` table; a `[server_defaults]` table sets them for
every server that does not set them itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OnUnavailable = Literal["error", "hide"]

DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024


class ServerPolicy(BaseModel):
    """Resilience and limit settings of one upstream server (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    reconnect_initial: float = Field(default=0.5, gt=0, allow_inf_nan=False)
    """Seconds before the first reconnect attempt (the ceiling of its random delay)."""
    reconnect_max: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    """Largest delay between reconnect attempts, in seconds."""
    reconnect_multiplier: float = Field(default=2.0, ge=1, allow_inf_nan=False)
    """Growth of the delay ceiling from one attempt to the next."""
    reconnect_attempts: int = Field(default=0, ge=0)
    """Failed attempts (since the last stable connection) before giving up; 0 retries forever.

    A server given up stays down until a reload changes its settings or the proxy restarts (a
    reload that leaves its settings as they are does not retry it).
    """
    stable_after: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    """Seconds a connection must stay up before the reconnect delay starts again from the beginning."""
    health_interval: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    """Seconds between health checks of a ready server (ping, or a cheap list on modern servers); 0 disables."""
    health_timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    """Seconds a health check may take."""
    health_failures: int = Field(default=3, ge=1)
    """Consecutive failed checks that mark the server down and reconnect it (one failure marks it degraded)."""
    breaker_failures: int = Field(default=5, ge=0)
    """Consecutive failed calls that open the circuit breaker; 0 disables it."""
    breaker_open_seconds: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    """Seconds the breaker stays open before one trial call is let through."""
    progress_extends_timeout: bool = True
    """Progress notifications from the server restart the call's `timeout`, up to `max_timeout`."""
    max_timeout: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    """Hard limit of one call in seconds, however much progress it reports."""
    on_unavailable: OnUnavailable = "error"
    """While the server is unavailable: keep its tools listed and answer calls with an error, or hide them."""
    max_output_bytes: int = Field(default=DEFAULT_MAX_OUTPUT_BYTES, ge=0)
    """Largest tool result passed on, in bytes of text; larger output is cut with a marker. 0 disables."""
    max_concurrency: int = Field(default=0, ge=0)
    """Calls in flight to this server at once; more wait in a queue. 0 is unlimited."""
    queue_timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    """Seconds a call may wait in that queue before it fails."""
    required: bool = False
    """Readiness (`/readyz`) requires this server to be ready."""
    inherit_env: list[str] = Field(default_factory=list[str])
    """Names of the proxy's environment variables passed to a stdio server besides the minimal default set."""


POLICY_FIELDS: frozenset[str] = frozenset(ServerPolicy.model_fields)
