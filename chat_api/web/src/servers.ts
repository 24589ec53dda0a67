// The servers panel's data: GET /mcp/servers, or the link's own view from /health/detailed when
// the service has no per-upstream report.

import { ApiError, getServers } from "./api";
import type { DetailedHealth, ServersReport, UpstreamState } from "./types";

export function normaliseState(state: string | null | undefined): UpstreamState {
  const known: UpstreamState[] = ["ready", "degraded", "connecting", "down", "login_required", "disabled"];
  return known.find((s) => s === state) ?? "unknown";
}

/** Servers by name: a server changing state keeps its place in the panel. */
export function sortServers(report: ServersReport): ServersReport {
  const servers = [...report.servers].sort((a, b) => a.name.localeCompare(b.name));
  return { ...report, servers };
}

export function reportFromHealth(health: DetailedHealth): ServersReport {
  const linkState = health.state ?? (health.initialized ? "ready" : "down");
  return {
    mode: health.mode,
    status: health.status,
    source: "link",
    link: { state: linkState, target: health.target ?? "", last_error: health.last_error ?? null },
    servers: (health.server_detail ?? []).map((server) => {
      // The proxy's own word for the state when the link has it, else the link's health.
      const state = server.state ? normaliseState(server.state) : server.healthy ? "ready" : "down";
      return {
        name: server.name,
        state: health.initialized ? state : "unknown",
        transport: server.transport ?? null,
        tools: server.tools,
        resources: server.resources,
        last_error: server.last_error ?? null,
      };
    }),
  };
}

async function detailedHealth(): Promise<DetailedHealth> {
  let response: Response;
  try {
    response = await fetch("/health/detailed");
  } catch {
    throw new ApiError(0, "network", "The chat service cannot be reached. Is it running?");
  }
  if (!response.ok && response.status !== 503) throw new ApiError(response.status, "http", response.statusText);
  return (await response.json()) as DetailedHealth;
}

/** The per-upstream report, falling back to what /health/detailed knows. */
export async function loadServers(): Promise<ServersReport> {
  try {
    const report = await getServers();
    return sortServers({ ...report, servers: report.servers.map((s) => ({ ...s, state: normaliseState(s.state) })) });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  return sortServers(reportFromHealth(await detailedHealth()));
}
