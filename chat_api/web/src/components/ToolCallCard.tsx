import type { ToolCallView } from "../chatState";
import { formatDuration } from "../format";
import { ArgumentsView } from "./ArgumentsView";
import { ProgressBar } from "./ProgressBar";
import { ResultView } from "./ResultView";

interface Props {
  tool: ToolCallView;
  /** The answer ended (or failed) while this call was still running. */
  interrupted: boolean;
}

/** One tool call inside an answer: what ran where, with which arguments, how it went. */
export function ToolCallCard({ tool, interrupted }: Props) {
  const running = tool.status === "running" && !interrupted;
  const status = running ? "running" : interrupted && tool.status === "running" ? "interrupted" : tool.status;
  const statusText = { running: "Running", interrupted: "Interrupted", ok: "Done", error: "Failed" }[status];
  const hasResult = tool.result !== null || tool.content !== null || tool.structured !== null;
  return (
    <article className={`tool-card tool-card--${status}`} aria-label={`Tool call ${tool.name}: ${statusText}`}>
      <header className="tool-card__header">
        <span className={`status-dot status-dot--${status}`} aria-hidden="true" />
        <span className="tool-card__name">{tool.name}</span>
        {tool.server ? (
          <span className="tool-card__server" title="The server this tool comes from">
            {tool.server}
          </span>
        ) : null}
        <span className="tool-card__status">{statusText}</span>
        {tool.durationMs !== null ? <span className="tool-card__duration">{formatDuration(tool.durationMs)}</span> : null}
      </header>
      {running ? (
        <ProgressBar
          label={`Progress of ${tool.name}`}
          value={tool.progress?.progress ?? null}
          total={tool.progress?.total ?? null}
          message={tool.progress?.message ?? null}
        />
      ) : null}
      <details className="tool-card__section">
        <summary>Arguments</summary>
        <ArgumentsView args={tool.arguments} />
      </details>
      {(status === "ok" || status === "error") && hasResult ? (
        <details className="tool-card__section" open={status === "error"}>
          <summary>{status === "error" ? "Error" : "Result"}</summary>
          <ResultView content={tool.content} structured={tool.structured} text={tool.result} />
        </details>
      ) : null}
      {status === "error" && !hasResult ? (
        <p className="tool-card__error">The tool reported an error; the model was told and can try something else.</p>
      ) : null}
    </article>
  );
}
