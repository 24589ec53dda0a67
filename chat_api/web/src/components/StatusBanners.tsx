import { ApiError } from "../api";
import type { Health } from "../types";

interface Props {
  health: Health | null;
  healthError: Error | null;
  linkError: string | null;
}

/** What stops the UI from working fully right now, said plainly at the top of the page. */
export function StatusBanners({ health, healthError, linkError }: Props) {
  if (healthError) {
    const unreachable = healthError instanceof ApiError && healthError.code === "network";
    return (
      <div className="banner banner--error" role="alert" data-banner="service-down">
        <strong>{unreachable ? "The chat service is not reachable." : "The chat service has a problem."}</strong>{" "}
        {unreachable ? "Start it with make run; this page retries by itself." : healthError.message}
      </div>
    );
  }
  if (!health) return null;
  return (
    <div className="banners">
      {!health.initialized ? (
        <div className="banner banner--error" role="alert" data-banner="mcp-down">
          <strong>The MCP server is not connected.</strong> Chat and tools are unavailable until it is back; the
          service reconnects by itself.
          {linkError ? <span className="banner__detail"> Last error: {linkError}</span> : null}
        </div>
      ) : null}
      {!health.llm.configured ? (
        <div className="banner banner--info" role="status" data-banner="no-llm">
          <strong>No language model is configured.</strong> Chat replies with a notice instead of an answer; run tools
          directly from the Tools tab. Set <code>LLM_BASE_URL</code> (any OpenAI-compatible API) or{" "}
          <code>ANTHROPIC_API_KEY</code> and restart the service to chat.
        </div>
      ) : null}
    </div>
  );
}
