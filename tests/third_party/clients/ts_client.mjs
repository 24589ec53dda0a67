// A client written with the official TypeScript SDK (1.x), driven by tests/third_party.
//
// Usage: node ts_client.mjs SDK_DIR SPEC_JSON
//   SDK_DIR    the installed @modelcontextprotocol/sdk package folder
//   SPEC_JSON  {"transport": "stdio"|"http"|"sse", "command", "args", "env", "url",
//               "tool_prefix", "ask_prefixes": [...], "roots": [uri, ...], "sampled_text",
//               "progress_pause"}
//
// Steps: list the tools; call `<tool_prefix>echo`; call `<tool_prefix>slow` with a progress
// handler; then, for each prefix of `ask_prefixes`, call `<prefix>ask_llm` (the server asks for
// sampling) and `<prefix>show_roots` (the server asks for roots/list).
//
// It connects once, declares sampling and roots, answers those requests itself, and runs
// the same steps as clients/python_client.py. Each step's outcome goes into one JSON report
// on stdout ({"ok": value} or {"error": message}), so one failing step does not hide the others.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [sdkDir, specText] = process.argv.slice(2);
const spec = JSON.parse(specText);
const load = (relative) => import(pathToFileURL(join(sdkDir, "dist", "esm", relative)).href);

const { Client } = await load("client/index.js");
const { CreateMessageRequestSchema, ListRootsRequestSchema } = await load("types.js");

function transportFor() {
  if (spec.transport === "stdio") {
    return load("client/stdio.js").then(
      ({ StdioClientTransport }) =>
        new StdioClientTransport({ command: spec.command, args: spec.args, env: spec.env, stderr: "inherit" }),
    );
  }
  if (spec.transport === "sse") {
    return load("client/sse.js").then(({ SSEClientTransport }) => new SSEClientTransport(new URL(spec.url)));
  }
  return load("client/streamableHttp.js").then(
    ({ StreamableHTTPClientTransport }) => new StreamableHTTPClientTransport(new URL(spec.url)),
  );
}

const report = { client: "typescript-sdk", asked: { sampling: [], roots: 0 }, protocol_errors: [] };
const client = new Client(
  { name: "manifold-tests-ts-client", version: "1.0.0" },
  { capabilities: { sampling: {}, roots: { listChanged: true } } },
);
// What the SDK reports besides request failures: unknown progress tokens, unparseable messages.
client.onerror = (error) => report.protocol_errors.push(error instanceof Error ? error.message : String(error));
client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
  const first = request.params.messages[0]?.content;
  report.asked.sampling.push(first && first.type === "text" ? first.text : null);
  return { role: "assistant", model: "ts-client-model", content: { type: "text", text: spec.sampled_text } };
});
client.setRequestHandler(ListRootsRequestSchema, async () => {
  report.asked.roots += 1;
  return { roots: spec.roots.map((uri) => ({ uri })) };
});

async function step(name, run) {
  try {
    report[name] = { ok: await run() };
  } catch (error) {
    report[name] = { error: error instanceof Error ? error.message : String(error) };
  }
}

const tool = (name) => `${spec.tool_prefix}${name}`;
const texts = (result) => ({
  texts: result.content.filter((block) => block.type === "text").map((block) => block.text),
  is_error: result.isError === true,
});

await step("connect", async () => {
  await client.connect(await transportFor());
  // The SDK keeps the negotiated version to itself (the HTTP transports expose it; stdio does not).
  return { server: client.getServerVersion()?.name ?? null };
});
if (!("error" in report.connect)) {
  await step("list_tools", async () => (await client.listTools()).tools.map((t) => t.name));
  await step("call", async () => texts(await client.callTool({ name: tool("echo"), arguments: { message: "from ts" } })));
  const progress = [];
  await step("progress", async () => {
    const request = { name: tool("slow"), arguments: { steps: 3, pause: spec.progress_pause } };
    const result = await client.callTool(request, undefined, {
      onprogress: (p) => progress.push([p.progress, p.total ?? null]),
    });
    return { ...texts(result), updates: progress };
  });
  for (const prefix of spec.ask_prefixes) {
    await step(`sampling ${prefix}`, async () =>
      texts(await client.callTool({ name: `${prefix}ask_llm`, arguments: { prompt: `ts asks ${prefix}` } })),
    );
    await step(`roots ${prefix}`, async () =>
      texts(await client.callTool({ name: `${prefix}show_roots`, arguments: {} })),
    );
  }
  await client.close();
}
process.stdout.write(JSON.stringify(report) + "\n");
