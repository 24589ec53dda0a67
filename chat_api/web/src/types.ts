// The chat service's HTTP API, as the UI reads it (see chat_api/schemas.py and chat_api/routes.py).

export type Mode = "single" | "multi";

export interface ToolCallInfo {
  name: string;
  server: string | null;
  is_error: boolean;
  duration_ms: number;
}

export interface ChatMetadata {
  mode: Mode | null;
  tools_called: number;
  servers_used: string[];
  duration_ms: number;
  provider?: string | null;
  model?: string | null;
  iterations?: number;
  finish_reason?: string;
  tool_calls?: ToolCallInfo[];
}

export interface ChatResponse {
  response: string;
  tools_used: string[];
  conversation_id: string;
  metadata: ChatMetadata;
}

export interface ErrorBody {
  error: string;
  message: string;
}

/** One MCP content block, as the server returned it. */
export interface ContentBlock {
  type: string;
  text?: string;
  data?: string;
  mimeType?: string;
  uri?: string;
  name?: string;
  resource?: { uri?: string; text?: string; mimeType?: string; blob?: string };
  [key: string]: unknown;
}

export interface ToolInfo {
  name: string;
  server: string;
  original_name: string;
  description: string;
  input_schema: JsonSchema;
}

export interface ToolList {
  tools: ToolInfo[];
  count: number;
  mode: Mode | null;
}

export interface ResourceInfo {
  uri: string;
  name: string;
  server: string;
  description: string;
  mime_type: string | null;
  preview?: string | null;
}

export interface ResourceList {
  resources: ResourceInfo[];
  count: number;
}

export interface ToolCallResponse {
  tool: string;
  server: string;
  is_error: boolean;
  text: string;
  content: ContentBlock[];
  structured_content: Record<string, unknown> | null;
  duration_ms: number;
}

export type HealthStatus = "healthy" | "degraded" | "unhealthy";

export interface LlmStatus {
  configured: boolean;
  provider: string | null;
  model: string | null;
}

/** GET /health: `status` speaks of the MCP side only; `servers` counts the healthy ones. */
export interface Health {
  status: HealthStatus;
  mode: Mode | null;
  servers: number;
  initialized: boolean;
  llm: LlmStatus;
}

/** GET /health/detailed: the integration figures at the top level, and the link's own facts. */
export interface DetailedHealth {
  status: HealthStatus;
  initialized: boolean;
  mode: Mode | null;
  servers: { total: number; healthy: number };
  tools: { total: number };
  resources: { total: number; cache: { entries: number; size_bytes: number } };
  llm: LlmStatus;
  state?: string;
  target?: string;
  last_error?: string | null;
  next_retry_at?: number | null;
  server_detail?: {
    name: string;
    healthy: boolean;
    tools: number;
    resources: number;
    state?: string | null;
    transport?: string | null;
    last_error?: string | null;
    retry_in_s?: number | null;
  }[];
}

export type UpstreamState = "ready" | "degraded" | "connecting" | "down" | "login_required" | "disabled" | "unknown";

/** One server behind the MCP link, as GET /mcp/servers describes it. */
export interface UpstreamInfo {
  name: string;
  state: UpstreamState;
  transport: string | null;
  tools: number;
  resources?: number;
  last_error: string | null;
  retry_in_s?: number | null;
  /** The command that signs the proxy in to this server, while it waits for a person to. */
  sign_in?: string | null;
  /** A link a browser opens to sign the proxy in (the proxy's HTTP front), while it waits. */
  sign_in_url?: string | null;
  /** Tools whose definition changed since it was pinned: their calls are refused until approved. */
  changed_tools?: string[];
  /** New tools held back until approved. */
  held_tools?: string[];
  /** Descriptions the proxy's scan flagged, as `kind name: rule`. */
  flagged?: string[];
}

export interface ServersReport {
  mode: Mode | null;
  status: string;
  source: "proxy" | "link";
  link: { state: string; target: string; last_error: string | null };
  servers: UpstreamInfo[];
}

/** The subset of JSON Schema the tool form understands; anything else is edited as JSON. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  format?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  [key: string]: unknown;
}
