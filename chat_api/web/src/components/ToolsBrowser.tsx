import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, callTool, listTools } from "../api";
import { formatDuration, pretty } from "../format";
import type { ToolCallResponse, ToolInfo, ToolList, UpstreamState } from "../types";
import { ResultView } from "./ResultView";
import { SchemaForm } from "./SchemaForm";

interface Props {
  /** Changes whenever the tool list may have changed (the link came back, a server's tool count moved). */
  refreshKey: string;
  /** Each server's state, to mark the tools of servers that are down. */
  serverStates?: Record<string, UpstreamState>;
}

function ServerChip({ server, state }: { server: string; state: UpstreamState | undefined }) {
  const down = state === "down";
  return <span className={`chip${down ? " chip--down" : ""}`}>{down ? `${server} · down` : server}</span>;
}

type Run =
  | { state: "idle" }
  | { state: "running"; tool: string }
  | { state: "done"; tool: string; args: Record<string, unknown>; result: ToolCallResponse }
  | { state: "failed"; tool: string; message: string; code: string };

export function matches(tool: ToolInfo, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const haystack = `${tool.name} ${tool.original_name} ${tool.server} ${tool.description}`.toLowerCase();
  return words.every((word) => haystack.includes(word));
}

function ToolDetail({ tool, state }: { tool: ToolInfo; state: UpstreamState | undefined }) {
  const [run, setRun] = useState<Run>({ state: "idle" });
  const abort = useRef<AbortController | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const outcome = useRef<HTMLDivElement>(null);

  useEffect(() => () => abort.current?.abort(), []);
  // Opening a tool moves focus to its heading, so keyboard and screen-reader users land on it.
  useEffect(() => heading.current?.focus(), []);
  // A finished run is scrolled into view: the result is what the person is waiting for.
  useEffect(() => {
    if (run.state === "done" || run.state === "failed") outcome.current?.scrollIntoView?.({ block: "nearest" });
  }, [run.state]);

  const execute = async (args: Record<string, unknown>) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setRun({ state: "running", tool: tool.name });
    try {
      const result = await callTool(tool.name, args, controller.signal);
      setRun({ state: "done", tool: tool.name, args, result });
    } catch (error) {
      if (controller.signal.aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      setRun({ state: "failed", tool: tool.name, message, code: error instanceof ApiError ? error.code : "error" });
    }
  };

  const formId = `tool-${tool.name.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
  return (
    <div className="tool-detail">
      <h3 className="tool-detail__name" ref={heading} tabIndex={-1}>
        {tool.original_name}
      </h3>
      <p className="tool-detail__meta">
        <ServerChip server={tool.server} state={state} /> <code>{tool.name}</code>
      </p>
      {tool.description ? <p className="tool-detail__description">{tool.description}</p> : null}
      <details className="schema">
        <summary>Input schema</summary>
        <pre className="result-json">{pretty(tool.input_schema)}</pre>
      </details>
      <SchemaForm formId={formId} schema={tool.input_schema} running={run.state === "running"} onRun={execute} />
      <div className="tool-run" aria-live="polite" ref={outcome}>
        {run.state === "running" ? <p className="muted">Running {tool.original_name}…</p> : null}
        {run.state === "failed" ? (
          <div className="message-error" role="alert">
            <strong>The call failed.</strong> {run.message} <span className="muted">({run.code})</span>
          </div>
        ) : null}
        {run.state === "done" ? (
          <section
            className={`tool-result${run.result.is_error ? " tool-result--error" : ""}`}
            aria-label={`Result of ${tool.original_name}`}
          >
            <header className="tool-result__header">
              <span className={`status-dot status-dot--${run.result.is_error ? "error" : "ok"}`} aria-hidden="true" />
              <strong>{run.result.is_error ? "The tool reported an error" : "Result"}</strong>
              <span className="chip">{run.result.server}</span>
              <span className="muted">{formatDuration(run.result.duration_ms)}</span>
            </header>
            <ResultView content={run.result.content} structured={run.result.structured_content} text={run.result.text} />
          </section>
        ) : null}
      </div>
    </div>
  );
}

/** Search the tools, read their schemas and run them directly, with no model involved. */
export function ToolsBrowser({ refreshKey, serverStates = {} }: Props) {
  const [list, setList] = useState<ToolList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let cancelled = false;
    listTools()
      .then((tools) => {
        if (cancelled) return;
        setList(tools);
        setError(null);
      })
      .catch((caught: unknown) => {
        if (!cancelled) setError(caught instanceof Error ? caught.message : String(caught));
      });
    return () => {
      cancelled = true;
    };
  }, [refreshKey, reload]);

  const filtered = useMemo(() => (list ? list.tools.filter((tool) => matches(tool, query)) : []), [list, query]);
  const tool = list?.tools.find((t) => t.name === selected) ?? null;

  if (tool) {
    return (
      <div className="tools-browser">
        <button
          type="button"
          className="button button--ghost back"
          onClick={() => {
            setSelected(null);
            requestAnimationFrame(() => document.getElementById("tool-search")?.focus());
          }}
        >
          ← All tools
        </button>
        <ToolDetail key={tool.name} tool={tool} state={serverStates[tool.server]} />
      </div>
    );
  }

  return (
    <div className="tools-browser">
      <div className="search">
        <label htmlFor="tool-search">Search tools</label>
        <input
          id="tool-search"
          type="search"
          value={query}
          placeholder="Name, server or description"
          onChange={(event) => setQuery(event.target.value)}
        />
      </div>
      {error ? (
        <div className="message-error" role="alert">
          Tools unavailable: {error}{" "}
          <button type="button" className="link-button" onClick={() => setReload((n) => n + 1)}>
            Try again
          </button>
        </div>
      ) : null}
      {list ? (
        <p className="muted small" aria-live="polite">
          {filtered.length === list.count ? `${list.count} tools` : `${filtered.length} of ${list.count} tools`}
        </p>
      ) : error ? null : (
        <p className="muted">Loading tools…</p>
      )}
      <ul className="tool-list" aria-label="Tools">
        {filtered.map((item) => (
          <li key={item.name}>
            <button type="button" className="tool-item" onClick={() => setSelected(item.name)} data-tool={item.name}>
              <span className="tool-item__top">
                <span className="tool-item__name">{item.original_name}</span>
                <ServerChip server={item.server} state={serverStates[item.server]} />
              </span>
              {item.description ? <span className="tool-item__description">{item.description}</span> : null}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
