import { afterEach, describe, expect, it, vi } from "vitest";
import { loadServers } from "./servers";
import { SERVERS_OK, json, routeFetch } from "./test/http";
import type { DetailedHealth } from "./types";

afterEach(() => vi.unstubAllGlobals());

/** A /health/detailed body of a multi-mode link, with `fields` replaced. */
function detailedHealth(fields: Partial<DetailedHealth>): DetailedHealth {
  return {
    status: "healthy",
    initialized: true,
    mode: "multi",
    servers: { total: 0, healthy: 0 },
    tools: { total: 0 },
    resources: { total: 0, cache: { entries: 0, size_bytes: 0 } },
    llm: { configured: true, provider: null, model: null },
    ...fields,
  };
}

describe("loadServers", () => {
  it("uses the per-upstream report, sorted by name, unknown states made explicit", async () => {
    routeFetch({
      "GET /mcp/servers": () =>
        json({
          ...SERVERS_OK,
          servers: [{ name: "a", state: "weird", transport: null, tools: 0, last_error: null }, ...[...SERVERS_OK.servers].reverse()],
        }),
    });
    const report = await loadServers();
    expect(report.servers.map((s) => [s.name, s.state])).toEqual([
      ["a", "unknown"],
      ["database", "ready"],
      ["github", "ready"],
    ]);
  });

  it("falls back to the link's detail when the service has no per-upstream report", async () => {
    routeFetch({
      "GET /health/detailed": () =>
        json(
          detailedHealth({
            status: "degraded",
            servers: { total: 2, healthy: 1 },
            state: "ready",
            target: "stdio: python -m mcp_proxy",
            server_detail: [
              { name: "github", healthy: false, tools: 3, resources: 0, state: "down", last_error: "refused" },
              { name: "database", healthy: true, tools: 3, resources: 1 },
            ],
          }),
        ),
    });
    const report = await loadServers();
    expect(report.source).toBe("link");
    expect(report.servers).toEqual([
      { name: "database", state: "ready", transport: null, tools: 3, resources: 1, last_error: null },
      { name: "github", state: "down", transport: null, tools: 3, resources: 0, last_error: "refused" },
    ]);
  });

  it("knows nothing about the servers while the MCP link is down", async () => {
    routeFetch({
      "GET /health/detailed": () =>
        json(
          detailedHealth({
            status: "unhealthy",
            initialized: false,
            servers: { total: 1, healthy: 0 },
            state: "down",
            server_detail: [{ name: "db", healthy: false, tools: 2, resources: 0 }],
          }),
          503,
        ),
    });
    const report = await loadServers();
    expect(report.servers.map((s) => [s.name, s.state])).toEqual([["db", "unknown"]]);
  });
});
