import type { Health, ServersReport, UpstreamInfo, UpstreamState } from "../types";

interface Props {
  report: ServersReport | null;
  health: Health | null;
  error: Error | null;
}

const STATE_LABEL: Record<UpstreamState, string> = {
  ready: "Ready",
  degraded: "Degraded",
  connecting: "Connecting",
  down: "Down",
  login_required: "Sign-in needed",
  disabled: "Disabled",
  unknown: "Unknown",
};

const HEALTH_LABEL: Record<string, string> = { healthy: "Healthy", degraded: "Degraded", unhealthy: "Unhealthy" };

/** How to sign the proxy in to a server that waits for a person: a link to the proxy's sign-in page, or the command. */
function SignIn({ server }: { server: UpstreamInfo }) {
  if (server.sign_in_url) {
    return (
      <p className="server__sign-in">
        <a
          className="button button--sign-in"
          href={server.sign_in_url}
          target="_blank"
          rel="noopener noreferrer"
          aria-label={`Sign in to ${server.name}`}
        >
          Sign in
        </a>
        <span className="muted small"> in a new tab</span>
      </p>
    );
  }
  if (server.sign_in) {
    return (
      <p className="server__sign-in muted small">
        Sign in with <code>{server.sign_in}</code> where the proxy runs.
      </p>
    );
  }
  return null;
}

/** What the proxy's trust checks found on a server: changed or held tools, flagged descriptions. */
function TrustFindings({ server }: { server: UpstreamInfo }) {
  const changed = server.changed_tools ?? [];
  const held = server.held_tools ?? [];
  const flagged = server.flagged ?? [];
  if (changed.length === 0 && held.length === 0 && flagged.length === 0) {
    return null;
  }
  return (
    <div className="server__trust" role="note" aria-label={`Trust findings for ${server.name}`}>
      {changed.length > 0 ? (
        <p className="server__warning">
          Definition changed, calls refused: <code>{changed.join(", ")}</code>. Review with{" "}
          <code>mcp-proxy tools diff</code>, approve with <code>mcp-proxy tools approve</code>.
        </p>
      ) : null}
      {held.length > 0 ? (
        <p className="server__warning">
          New tools held until approved: <code>{held.join(", ")}</code>.
        </p>
      ) : null}
      {flagged.length > 0 ? (
        <p className="server__warning">
          Flagged descriptions: <span className="small">{flagged.join("; ")}</span>
        </p>
      ) : null}
    </div>
  );
}

function ServerCard({ server }: { server: UpstreamInfo }) {
  return (
    <li className={`server server--${server.state}`} data-server={server.name} data-state={server.state}>
      <div className="server__head">
        <span className={`status-dot status-dot--${server.state}`} aria-hidden="true" />
        <span className="server__name">{server.name}</span>
        <span className={`badge badge--${server.state}`}>{STATE_LABEL[server.state]}</span>
      </div>
      <dl className="server__facts">
        <div>
          <dt>Transport</dt>
          <dd>{server.transport ?? "—"}</dd>
        </div>
        <div>
          <dt>Tools</dt>
          <dd>{server.tools}</dd>
        </div>
      </dl>
      {server.state === "login_required" ? <SignIn server={server} /> : null}
      <TrustFindings server={server} />
      {server.last_error && server.state !== "ready" ? (
        <p className="server__error">
          <span className="visually-hidden">Last error: </span>
          {server.last_error}
          {server.retry_in_s ? <span className="muted"> · retry in {Math.ceil(server.retry_in_s)} s</span> : null}
        </p>
      ) : null}
    </li>
  );
}

/** Every server behind the MCP link, with its state, transport, tools and last error. */
export function ServersPanel({ report, health, error }: Props) {
  const servers = report?.servers ?? [];
  const ready = servers.filter((s) => s.state === "ready" || s.state === "degraded").length;
  const status = report?.status ?? health?.status ?? null;
  const mode = report?.mode ?? health?.mode ?? null;
  return (
    <aside className="servers-panel" aria-labelledby="servers-title">
      <div className="panel-title">
        <h2 id="servers-title">Servers</h2>
        {servers.length > 0 ? (
          <span className="muted" aria-live="polite">
            {ready}/{servers.length} up
          </span>
        ) : null}
      </div>
      <div className="overview">
        <div>
          <span className="overview__label">Mode</span>
          <span className="overview__value" data-testid="mode">
            {mode ?? "—"}
          </span>
        </div>
        <div>
          <span className="overview__label">Health</span>
          <span className={`overview__value health health--${status ?? "unknown"}`} data-testid="health">
            {status ? (HEALTH_LABEL[status] ?? status) : "—"}
          </span>
        </div>
      </div>
      {error && !report ? (
        <p className="panel-error" role="status">
          Server status unavailable: {error.message}
        </p>
      ) : null}
      {report && report.source === "link" && report.link.state !== "ready" && report.mode !== "single" ? (
        <p className="muted small">The MCP link is down, so the servers' states are unknown.</p>
      ) : null}
      <ul className="server-list" aria-label="Servers" aria-live="polite">
        {servers.map((server) => (
          <ServerCard key={server.name} server={server} />
        ))}
      </ul>
      {report && servers.length === 0 ? <p className="muted">No servers reported yet.</p> : null}
      {report?.link.target ? (
        <div className="link-target">
          <span className="overview__label">MCP link · {report.link.state}</span>
          <code title="Where the chat service's MCP link goes">{report.link.target}</code>
        </div>
      ) : null}
    </aside>
  );
}
