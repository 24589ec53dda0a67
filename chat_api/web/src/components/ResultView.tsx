import { parseJsonDocument, pretty } from "../format";
import type { ContentBlock } from "../types";

interface Props {
  /** MCP content blocks, when the service sent them. */
  content?: ContentBlock[] | null;
  /** Structured content (shown as JSON). */
  structured?: Record<string, unknown> | null;
  /** The result as text, used when there are no blocks. */
  text?: string | null;
}

function TextOrJson({ text }: { text: string }) {
  const json = parseJsonDocument(text);
  if (json !== undefined) {
    return (
      <pre className="result-json" data-kind="json">
        {pretty(json)}
      </pre>
    );
  }
  return (
    <pre className="result-text" data-kind="text">
      {text}
    </pre>
  );
}

function Block({ block }: { block: ContentBlock }) {
  if (block.type === "text" && typeof block.text === "string") return <TextOrJson text={block.text} />;
  if (block.type === "image" && typeof block.data === "string") {
    const mime = block.mimeType ?? "image/png";
    return (
      <figure className="result-image">
        <img src={`data:${mime};base64,${block.data}`} alt={`Image returned by the tool (${mime})`} />
      </figure>
    );
  }
  if (block.type === "audio" && typeof block.data === "string") {
    const mime = block.mimeType ?? "audio/wav";
    return <audio className="result-audio" controls src={`data:${mime};base64,${block.data}`} aria-label="Audio returned by the tool" />;
  }
  if (block.type === "resource_link") {
    return (
      <p className="result-link">
        Resource link: <code>{block.uri}</code>
        {block.name ? ` (${block.name})` : null}
      </p>
    );
  }
  if (block.type === "resource" && block.resource) {
    return (
      <div className="result-resource">
        <p>
          Embedded resource <code>{block.resource.uri}</code>
        </p>
        {typeof block.resource.text === "string" ? <TextOrJson text={block.resource.text} /> : <p>(binary content)</p>}
      </div>
    );
  }
  return <pre className="result-json">{pretty(block)}</pre>;
}

/** A tool result: text, JSON (pretty-printed), images, audio and resources. */
export function ResultView({ content, structured, text }: Props) {
  const blocks = content ?? [];
  const hasText = blocks.some((b) => b.type === "text");
  if (blocks.length === 0 && structured == null && !text) {
    return <p className="result-empty">The tool returned no content.</p>;
  }
  return (
    <div className="result-view">
      {blocks.map((block, index) => (
        <Block key={index} block={block} />
      ))}
      {structured != null && !hasText ? (
        <pre className="result-json" data-kind="json">
          {pretty(structured)}
        </pre>
      ) : null}
      {structured != null && hasText ? (
        <details className="result-structured">
          <summary>Structured content (JSON)</summary>
          <pre className="result-json" data-kind="json">
            {pretty(structured)}
          </pre>
        </details>
      ) : null}
      {blocks.length === 0 && structured == null && text ? <TextOrJson text={text} /> : null}
    </div>
  );
}
