import { useEffect, useMemo, useState } from "react";
import { listResources } from "../api";
import type { ResourceInfo, ResourceList } from "../types";
import { ResultView } from "./ResultView";

interface Props {
  refreshKey: string;
}

function groupByServer(resources: ResourceInfo[]): [string, ResourceInfo[]][] {
  const groups = new Map<string, ResourceInfo[]>();
  for (const resource of resources) {
    const group = groups.get(resource.server) ?? [];
    group.push(resource);
    groups.set(resource.server, group);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** The resources the MCP server offers, grouped by origin server, with a preview of the small text ones. */
export function ResourcesViewer({ refreshKey }: Props) {
  const [list, setList] = useState<ResourceList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  const [open, setOpen] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    listResources()
      .then((resources) => {
        if (cancelled) return;
        setList(resources);
        setError(null);
      })
      .catch((caught: unknown) => {
        if (!cancelled) setError(caught instanceof Error ? caught.message : String(caught));
      });
    return () => {
      cancelled = true;
    };
  }, [refreshKey]);

  const groups = useMemo(() => {
    const needle = filter.toLowerCase();
    const shown = (list?.resources ?? []).filter((r) =>
      `${r.uri} ${r.name} ${r.server} ${r.description}`.toLowerCase().includes(needle),
    );
    return groupByServer(shown);
  }, [list, filter]);

  return (
    <div className="resources-viewer">
      <div className="search">
        <label htmlFor="resource-search">Filter resources</label>
        <input id="resource-search" type="search" value={filter} onChange={(event) => setFilter(event.target.value)} />
      </div>
      {error ? (
        <div className="message-error" role="alert">
          Resources unavailable: {error}
        </div>
      ) : null}
      {list ? <p className="muted small">{list.count} resources</p> : error ? null : <p className="muted">Loading resources…</p>}
      {groups.map(([server, resources]) => (
        <section key={server} className="resource-group" aria-label={`Resources of ${server}`}>
          <h3>{server}</h3>
          <ul className="resource-list">
            {resources.map((resource) => {
              const expanded = open === resource.uri;
              const panelId = `resource-${resource.uri.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
              return (
                <li key={resource.uri} className="resource">
                  <button
                    type="button"
                    className="resource__toggle"
                    aria-expanded={expanded}
                    aria-controls={panelId}
                    onClick={() => setOpen(expanded ? null : resource.uri)}
                  >
                    <span className="resource__name">{resource.name || resource.uri}</span>
                    <code className="resource__uri">{resource.uri}</code>
                  </button>
                  {expanded ? (
                    <div id={panelId} className="resource__detail">
                      {resource.description ? <p>{resource.description}</p> : null}
                      <p className="muted small">Type: {resource.mime_type ?? "not declared"}</p>
                      {resource.preview ? (
                        <ResultView text={resource.preview} />
                      ) : (
                        <p className="muted small">No preview of its content is available.</p>
                      )}
                    </div>
                  ) : null}
                </li>
              );
            })}
          </ul>
        </section>
      ))}
    </div>
  );
}
