import { pretty } from "../format";

function Value({ value }: { value: unknown }) {
  if (typeof value === "string") {
    return value.includes("\n") ? <pre className="arg-text">{value}</pre> : <code className="arg-inline">{value}</code>;
  }
  if (value !== null && typeof value === "object") return <pre className="arg-text">{pretty(value)}</pre>;
  return <code className="arg-inline">{JSON.stringify(value)}</code>;
}

/** A tool call's arguments: one row per argument, strings shown as written (newlines included). */
export function ArgumentsView({ args }: { args: unknown }) {
  if (args == null || (typeof args === "object" && !Array.isArray(args) && Object.keys(args).length === 0)) {
    return <p className="muted">No arguments.</p>;
  }
  if (typeof args !== "object" || Array.isArray(args)) return <pre className="result-json">{pretty(args)}</pre>;
  return (
    <dl className="args">
      {Object.entries(args as Record<string, unknown>).map(([name, value]) => (
        <div key={name} className="args__row">
          <dt>{name}</dt>
          <dd>
            <Value value={value} />
          </dd>
        </div>
      ))}
    </dl>
  );
}
