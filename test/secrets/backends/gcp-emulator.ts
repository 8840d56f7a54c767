/**
 * A Google Secret Manager v1 emulator speaking the REST (HTTP/JSON) transcoding of the API, which the real
 * `@google-cloud/secret-manager` client uses in its `fallback: true` (HTTP/1.1) mode. Semantics modelled on
 * the documentation: numbered immutable versions, version aliases (unique names -> version numbers,
 * updated with updateSecret + update_mask), annotations, etag-guarded updates (ABORTED on mismatch),
 * disabled/destroyed versions (FAILED_PRECONDITION on access), errors as
 * `{"error": {"code": 404, "message": ..., "status": "NOT_FOUND"}}`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
// The store's own CRC32C (pinned to the standard check value in gcp-sm.test.ts), not a second copy.
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { OAuth2Client } from 'google-auth-library';
import { crc32c, GcpSecretManagerBackend } from '../../../src/secrets/backends/gcp-sm.js';

export interface GcpVersion {
  n: number;
  data: string | null; // base64
  state: 1 | 2 | 3; // ENABLED | DISABLED | DESTROYED
  createTime: string;
  destroyTime?: string;
}

export interface GcpSecret {
  name: string;
  createTime: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  versionAliases: Record<string, number>;
  etag: string;
  versions: GcpVersion[];
  iamBindings: { role: string; members: string[] }[];
}

export class GcpEmulatorState {
  readonly secrets = new Map<string, GcpSecret>();
  readonly requests: { method: string; url: string; headers: Record<string, unknown>; body: string; status: number }[] = [];
  /** Operations (e.g. `access`) answered with PERMISSION_DENIED. */
  readonly denied = new Set<string>();
  faults: { status: number; grpc: string; remaining: number }[] = [];
  /** Called before each mutation: tests use it to simulate a concurrent writer. */
  beforeUpdate?: (secret: GcpSecret) => void;

  reset(): void {
    this.secrets.clear();
    this.requests.length = 0;
    this.denied.clear();
    this.faults = [];
    this.beforeUpdate = undefined;
  }
  wireText(): string {
    return this.requests.map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`).join('\n');
  }
}

class GcpError extends Error {
  constructor(
    readonly http: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_HTTP: Record<string, number> = {
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  PERMISSION_DENIED: 403,
  FAILED_PRECONDITION: 400,
  INVALID_ARGUMENT: 400,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
};
const err = (status: string, message: string) => new GcpError(STATUS_HTTP[status] ?? 500, status, message);

const newEtag = (): string => `"${createHash('sha256').update(randomUUID()).digest('base64url').slice(0, 14)}"`;

function secretJson(s: GcpSecret): Record<string, unknown> {
  return {
    name: s.name,
    replication: { automatic: {} },
    createTime: s.createTime,
    labels: s.labels,
    annotations: s.annotations,
    versionAliases: Object.fromEntries(Object.entries(s.versionAliases).map(([k, v]) => [k, String(v)])),
    etag: s.etag,
  };
}

function versionJson(s: GcpSecret, v: GcpVersion): Record<string, unknown> {
  return { name: `${s.name}/versions/${v.n}`, createTime: v.createTime, state: v.state, ...(v.destroyTime ? { destroyTime: v.destroyTime } : {}), etag: `"v${v.n}"` };
}

function resolveVersion(s: GcpSecret, id: string): GcpVersion {
  let n: number;
  if (id === 'latest') n = Math.max(0, ...s.versions.map((v) => v.n));
  else if (/^\d+$/.test(id)) n = Number(id);
  else if (id in s.versionAliases) n = s.versionAliases[id];
  else throw err('NOT_FOUND', `Secret Version [${s.name}/versions/${id}] not found.`);
  const v = s.versions.find((x) => x.n === n);
  if (!v) throw err('NOT_FOUND', `Secret Version [${s.name}/versions/${id}] not found.`);
  return v;
}

function handle(state: GcpEmulatorState, method: string, url: URL, body: Record<string, unknown>): unknown {
  const path = decodeURIComponent(url.pathname.replace(/^\/v1\//, ''));
  const [resource, verb] = path.split(':') as [string, string | undefined];
  const get = (name: string): GcpSecret => {
    const s = state.secrets.get(name);
    if (!s) throw err('NOT_FOUND', `Secret [${name}] not found or has no versions.`);
    return s;
  };
  const deny = (op: string) => {
    if (state.denied.has(op)) throw err('PERMISSION_DENIED', `Permission 'secretmanager.${op}' denied for resource '${resource}' (or it may not exist).`);
  };
  let m: RegExpExecArray | null;
  if ((m = /^(projects\/[^/]+\/secrets\/[^/]+)\/versions\/([^/]+)$/.exec(resource))) {
    const s = get(m[1]);
    const v = resolveVersion(s, m[2]);
    if (verb === 'access' && method === 'GET') {
      deny('versions.access');
      if (v.state !== 1) throw err('FAILED_PRECONDITION', `Secret Version [${s.name}/versions/${v.n}] is in ${v.state === 2 ? 'DISABLED' : 'DESTROYED'} state.`);
      return { name: `${s.name}/versions/${v.n}`, payload: { data: v.data } };
    }
    if (method === 'POST' && (verb === 'destroy' || verb === 'disable' || verb === 'enable')) {
      deny(`versions.${verb}`);
      if (verb === 'destroy') {
        v.state = 3;
        v.data = null;
        v.destroyTime = new Date().toISOString();
      } else if (v.state === 3) throw err('FAILED_PRECONDITION', 'the version is destroyed');
      else v.state = verb === 'disable' ? 2 : 1;
      return versionJson(s, v);
    }
    if (method === 'GET' && !verb) return versionJson(s, v);
  }
  if ((m = /^(projects\/[^/]+\/secrets\/[^/]+)\/versions$/.exec(resource)) && method === 'GET') {
    const s = get(m[1]);
    deny('versions.list');
    return { versions: [...s.versions].sort((a, b) => b.n - a.n).map((v) => versionJson(s, v)), totalSize: s.versions.length };
  }
  if ((m = /^(projects\/[^/]+)\/secrets$/.exec(resource))) {
    if (method === 'POST') {
      deny('secrets.create');
      const id = url.searchParams.get('secretId') ?? '';
      if (!/^[A-Za-z0-9_-]{1,255}$/.test(id)) throw err('INVALID_ARGUMENT', 'Invalid secret id.');
      const name = `${m[1]}/secrets/${id}`;
      if (state.secrets.has(name)) throw err('ALREADY_EXISTS', `Secret [${name}] already exists.`);
      const s: GcpSecret = {
        name,
        createTime: new Date().toISOString(),
        labels: (body.labels as Record<string, string>) ?? {},
        annotations: (body.annotations as Record<string, string>) ?? {},
        versionAliases: {},
        etag: newEtag(),
        versions: [],
        iamBindings: [],
      };
      state.secrets.set(name, s);
      return secretJson(s);
    }
    if (method === 'GET') {
      deny('secrets.list');
      const filter = url.searchParams.get('filter') ?? '';
      const fm = /^name:(.*)$/.exec(filter);
      const list = [...state.secrets.values()]
        .filter((s) => s.name.startsWith(`${m![1]}/secrets/`))
        .filter((s) => !fm || s.name.split('/').pop()!.includes(fm[1]));
      return { secrets: list.map(secretJson), totalSize: list.length };
    }
  }
  if ((m = /^(projects\/[^/]+\/secrets\/[^/]+)$/.exec(resource))) {
    const s = method === 'POST' && verb === 'addVersion' ? get(m[1]) : get(m[1]);
    if (verb === 'addVersion' && method === 'POST') {
      deny('versions.add');
      state.beforeUpdate?.(s);
      const payload = body.payload as { data?: string; dataCrc32c?: string | number } | undefined;
      if (!payload?.data) throw err('INVALID_ARGUMENT', 'payload.data is required');
      if (payload.dataCrc32c !== undefined && Number(payload.dataCrc32c) !== crc32c(Buffer.from(payload.data, 'base64'))) {
        throw err('INVALID_ARGUMENT', 'Checksum mismatch: the payload was corrupted in transit.');
      }
      const v: GcpVersion = { n: Math.max(0, ...s.versions.map((x) => x.n)) + 1, data: payload.data, state: 1, createTime: new Date().toISOString() };
      s.versions.push(v);
      return versionJson(s, v);
    }
    if (verb === 'getIamPolicy') {
      deny('secrets.getIamPolicy');
      return { version: 1, etag: 'BwX=', bindings: s.iamBindings };
    }
    if (!verb && method === 'GET') {
      deny('secrets.get');
      return secretJson(s);
    }
    if (!verb && method === 'DELETE') {
      deny('secrets.delete');
      state.secrets.delete(s.name);
      return {};
    }
    if (!verb && method === 'PATCH') {
      deny('secrets.update');
      state.beforeUpdate?.(s);
      if (body.etag && body.etag !== s.etag) throw err('ABORTED', 'The etag provided in the request does not match the current etag of the secret.');
      const mask = (url.searchParams.get('updateMask') ?? '').split(',').filter(Boolean);
      if (mask.length === 0) throw err('INVALID_ARGUMENT', 'update_mask is required');
      for (const field of mask) {
        if (field === 'annotations') s.annotations = (body.annotations as Record<string, string>) ?? {};
        else if (field === 'labels') s.labels = (body.labels as Record<string, string>) ?? {};
        else if (field === 'versionAliases' || field === 'version_aliases') {
          const aliases = (body.versionAliases as Record<string, string>) ?? {};
          for (const [k, v] of Object.entries(aliases)) {
            if (k === 'latest' || k === 'NEW' || !/^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(k)) throw err('INVALID_ARGUMENT', `invalid alias ${k}`);
            const ver = s.versions.find((x) => x.n === Number(v));
            if (!ver || ver.state === 3) throw err('INVALID_ARGUMENT', `alias ${k} must point to an existing, not destroyed version`);
          }
          s.versionAliases = Object.fromEntries(Object.entries(aliases).map(([k, v]) => [k, Number(v)]));
        } else throw err('INVALID_ARGUMENT', `unsupported update_mask path ${field}`);
      }
      s.etag = newEtag();
      return secretJson(s);
    }
  }
  throw new GcpError(404, 'NOT_FOUND', `no route for ${method} ${url.pathname}`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface GcpEmulator {
  endpoint: string;
  port: number;
  state: GcpEmulatorState;
  close(): Promise<void>;
}

export async function startGcpSecretManagerEmulator(options: { token?: string } = {}): Promise<GcpEmulator> {
  const state = new GcpEmulatorState();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const text = await readBody(req);
      const method = req.method ?? 'GET';
      const rec = { method, url: req.url ?? '', headers: { ...req.headers } as Record<string, unknown>, body: text, status: 0 };
      state.requests.push(rec);
      const reply = (status: number, payload: unknown): void => {
        rec.status = status;
        const out = JSON.stringify(payload);
        res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(out) });
        res.end(out);
      };
      try {
        // The GCE metadata server, so Application Default Credentials work unchanged (GCE_METADATA_HOST).
        if ((req.url ?? '').startsWith('/computeMetadata/v1/')) {
          const p = (req.url ?? '').split('?')[0];
          const meta: Record<string, string> = {
            '/computeMetadata/v1/instance/service-accounts/default/token': JSON.stringify({ access_token: options.token ?? 'metadata-token', expires_in: 3599, token_type: 'Bearer' }),
            '/computeMetadata/v1/project/project-id': 'acme',
            '/computeMetadata/v1/universe/universe-domain': 'googleapis.com',
            '/computeMetadata/v1/instance': '{}',
          };
          const text = meta[p];
          rec.status = text === undefined ? 404 : 200;
          res.writeHead(rec.status, { 'Metadata-Flavor': 'Google', 'Content-Type': p.endsWith('/token') ? 'application/json' : 'text/plain' });
          res.end(text ?? 'not found');
          return;
        }
        const fault = state.faults.find((f) => f.remaining > 0);
        if (fault) {
          fault.remaining -= 1;
          throw new GcpError(fault.status, fault.grpc, 'injected fault');
        }
        if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
          throw new GcpError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
        }
        const url = new URL(req.url ?? '/', 'http://gcp.local');
        reply(200, handle(state, method, url, text ? (JSON.parse(text) as Record<string, unknown>) : {}));
      } catch (e) {
        if (e instanceof GcpError) reply(e.http, { error: { code: e.http, message: e.message, status: e.status } });
        else reply(500, { error: { code: 500, message: (e as Error).message, status: 'INTERNAL' } });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The real backend talking to `emu` over REST with a static OAuth token; every client it creates is pushed to
 * `clients`, so that a test can close them.
 */
export function emulatorBackend(emu: GcpEmulator, token: string, clients: SecretManagerServiceClient[], env: Record<string, string | undefined> = {}): GcpSecretManagerBackend {
  return new GcpSecretManagerBackend({
    env: { ...env, CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: `${emu.endpoint}/` },
    clientFactory: (opts) => {
      const auth = new OAuth2Client();
      auth.setCredentials({ access_token: token, expiry_date: Date.now() + 3_600_000 });
      const c = new SecretManagerServiceClient({ ...opts, authClient: auth });
      clients.push(c);
      return c;
    },
  });
}
