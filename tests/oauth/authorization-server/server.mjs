// A real OAuth 2.1 / OpenID authorization server for the tests: oidc-provider on loopback.
//
// Usage: node server.mjs TREE_DIR '<configuration JSON>'
//   TREE_DIR  the folder where the pinned tree (package.json beside this file) is installed
//   the JSON  see authorization_server.py for its fields
//
// It listens on the configured port (0: a free one), then prints one JSON line on stdout,
// {"issuer": "http://127.0.0.1:PORT"}, and serves until stdin closes or it gets SIGTERM.
// Signing keys are made fresh at every start, so a restart on the same port is a key rotation.
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [treeDir, settingsText] = process.argv.slice(2);
const resolveInTree = createRequire(join(resolve(treeDir), 'package.json')).resolve;
const { default: Provider, errors } = await import(pathToFileURL(resolveInTree('oidc-provider')).href);

const settings = JSON.parse(settingsText ?? '{}');
const host = settings.host ?? '127.0.0.1';

// Resource servers (RFC 8707): the configured ones, and any other URL under the default policy,
// so a test can ask for a token for whatever URL its proxy listens on.
// Run by hand without settings, it offers the test scopes to any resource URL.
const scopes = settings.scopes ?? ['mcp:read', 'mcp:tools', 'mcp:admin'];
const resources = new Map(Object.entries(settings.resources ?? {}));
const defaultResource = settings.default_resource === undefined
  ? { scopes, ttl: 300, format: 'jwt' }
  : settings.default_resource;

// Client ID Metadata Documents: the provider fetches only https:// ids and refuses loopback
// addresses, so a test registers each https id here, with the document itself or with the
// loopback URL that serves it.
const metadataDocuments = new Map();

async function testFetch(url, options) {
  const registered = metadataDocuments.get(String(url));
  if (registered === undefined) {
    return globalThis.fetch(url, options);
  }
  if (registered.document != null) {
    return new Response(JSON.stringify(registered.document), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  }
  const { dispatcher: _ignored, ...rest } = options; // the loopback guard would refuse the local URL
  return globalThis.fetch(registered.fetch_from, rest);
}

function resourceServerInfo(resource) {
  const entry = resources.get(resource) ?? defaultResource;
  if (entry === null) {
    throw new errors.InvalidTarget();
  }
  const info = {
    scope: entry.scopes.join(' '),
    audience: resource,
    accessTokenTTL: entry.ttl,
    accessTokenFormat: entry.format,
  };
  if (entry.format === 'jwt') {
    info.jwt = { sign: { alg: 'RS256' } };
  }
  return info;
}

function signingKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, alg: 'RS256', use: 'sig', kid: randomBytes(8).toString('hex') }] };
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}');
}

// The test hooks, outside the provider: POST /__test__/resources {"url", "scopes", "ttl", "format"}
// and POST /__test__/client-metadata {"client_id", "document" | "fetch_from"}.
async function testHook(req, res) {
  const body = await readBody(req);
  if (req.url === '/__test__/resources') {
    resources.set(body.url, { scopes: body.scopes, ttl: body.ttl, format: body.format });
  } else if (req.url === '/__test__/client-metadata') {
    metadataDocuments.set(body.client_id, { document: body.document, fetch_from: body.fetch_from });
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(204).end();
}

const server = http.createServer();
await new Promise((resolve) => server.listen(settings.port ?? 0, host, resolve));
const issuer = `http://${host}:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: settings.clients ?? [],
  jwks: signingKeys(),
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access', ...scopes],
  claims: { openid: ['sub'], email: ['email'] },
  pkce: { required: () => true },
  responseTypes: ['code'],
  // Every refresh rotates the refresh token, for confidential clients too (the provider's
  // default rotates only public ones), so clients under test must store the new one.
  rotateRefreshToken: () => true,
  ttl: {
    ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.test` };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client, oneOf) => oneOf,
      // The token request may leave `resource` out: it then gets the one that was authorised.
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => resourceServerInfo(resource),
    },
  },
  fetch: testFetch,
});
provider.proxy = false;

const handle = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/__test__/')) {
    testHook(req, res).catch((error) => res.writeHead(400).end(String(error)));
    return;
  }
  handle(req, res);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
