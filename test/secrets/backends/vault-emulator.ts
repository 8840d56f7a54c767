/**
 * A HashiCorp Vault KV v2 emulator for tests: a real HTTP server on 127.0.0.1 implementing the endpoints the
 * clariguard backend uses, with Vault's response envelope and error shapes:
 *
 *   GET/POST/PUT  /v1/MOUNT/data/PATH[?version=N]    read / write (options.cas check-and-set)
 *   GET           /v1/MOUNT/metadata/PATH            versions, current_version, custom_metadata
 *   GET           /v1/MOUNT/metadata/PATH?list=true  list keys (folders end with "/")
 *   POST          /v1/MOUNT/metadata/PATH            update metadata (custom_metadata replaces the map)
 *   DELETE        /v1/MOUNT/metadata/PATH            delete every version and the metadata
 *   POST          /v1/MOUNT/delete|undelete|destroy/PATH  {versions:[...]}
 *
 * Errors are `{"errors": [...]}`: 403 `permission denied` (bad token or a denied path), 404 `{"errors":[]}`
 * for missing secrets, 404 "no handler for route" for unknown mounts or a wrong namespace, 400
 * "check-and-set parameter did not match the current version" for CAS conflicts, 503 "Vault is sealed"
 * and 429 via fault injection. Requests are recorded for leak assertions.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface VaultVersion {
  data: Record<string, unknown> | null;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface VaultSecret {
  versions: Map<number, VaultVersion>;
  current_version: number;
  created_time: string;
  updated_time: string;
  max_versions: number;
  cas_required: boolean;
  custom_metadata: Record<string, string>;
}

export type VaultFault = 'sealed' | 'rateLimit' | 'permissionDenied';

export interface VaultRecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

export class VaultEmulatorState {
  /** `${namespace}|${mount}` -> path -> secret. */
  readonly stores = new Map<string, Map<string, VaultSecret>>();
  readonly requests: VaultRecordedRequest[] = [];
  /** Regexes on `MOUNT/kind/PATH` (e.g. /^secret\/data\/prod\//) answered with 403. */
  readonly deniedPaths: RegExp[] = [];
  readonly faults: { kind: VaultFault; remaining: number; method?: string }[] = [];

  constructor(
    public token: string,
    public namespace: string,
    readonly mounts: string[],
  ) {
    for (const m of mounts) this.stores.set(`${namespace}|${m}`, new Map());
  }

  injectFault(kind: VaultFault, times = 1, method?: string): void {
    this.faults.push({ kind, remaining: times, method });
  }

  secret(mount: string, path: string): VaultSecret | undefined {
    return this.stores.get(`${this.namespace}|${mount}`)?.get(path);
  }

  /** Writes a version the way another tool (`vault kv put`) would, bypassing clariguard. */
  externalPut(mount: string, path: string, data: Record<string, unknown>): number {
    const store = this.stores.get(`${this.namespace}|${mount}`)!;
    return putVersion(store, path, data);
  }

  wireText(): string {
    return this.requests.map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`).join('\n');
  }

  reset(): void {
    for (const s of this.stores.values()) s.clear();
    this.requests.length = 0;
    this.deniedPaths.length = 0;
    this.faults.length = 0;
  }
}

export interface VaultEmulator {
  /** Set as VAULT_ADDR. */
  address: string;
  token: string;
  state: VaultEmulatorState;
  close(): Promise<void>;
}

class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; '));
  }
}

const now = (): string => new Date().toISOString();

function putVersion(store: Map<string, VaultSecret>, path: string, data: Record<string, unknown>): number {
  let s = store.get(path);
  const t = now();
  if (!s) {
    s = { versions: new Map(), current_version: 0, created_time: t, updated_time: t, max_versions: 0, cas_required: false, custom_metadata: {} };
    store.set(path, s);
  }
  const v = s.current_version + 1;
  s.versions.set(v, { data, created_time: t, deletion_time: '', destroyed: false });
  s.current_version = v;
  s.updated_time = t;
  // Vault keeps max_versions (default 10) versions and drops the oldest.
  const keep = s.max_versions || 10;
  for (const old of [...s.versions.keys()].sort((a, b) => a - b)) {
    if (s.versions.size <= keep) break;
    s.versions.delete(old);
  }
  return v;
}

function versionMeta(v: VaultVersion, version: number, custom: Record<string, string>) {
  return { created_time: v.created_time, custom_metadata: { ...custom }, deletion_time: v.deletion_time, destroyed: v.destroyed, version };
}

function envelope(data: unknown): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: 'kv',
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function handle(state: VaultEmulatorState, method: string, url: URL, namespace: string, text: string): { status: number; body?: unknown } {
  const m = /^\/v1\/([^/]+)\/(data|metadata|delete|undelete|destroy)\/?(.*)$/.exec(url.pathname);
  const store = m ? state.stores.get(`${namespace}|${decodeURIComponent(m[1])}`) : undefined;
  if (!m || !store) {
    throw new VaultHttpError(404, [`no handler for route "${url.pathname.replace(/^\/v1\//, '')}". route entry not found.`]);
  }
  const [, mountRaw, kind, pathRaw] = m;
  const mount = decodeURIComponent(mountRaw);
  const path = decodeURIComponent(pathRaw).replace(/\/+$/, '');
  if (state.deniedPaths.some((re) => re.test(`${mount}/${kind}/${path}`))) throw new VaultHttpError(403, ['1 error occurred:\n\t* permission denied\n\n']);
  let body: Record<string, unknown> = {};
  if (text) {
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new VaultHttpError(400, ['error parsing JSON']);
    }
  }
  const secret = store.get(path);

  if (kind === 'data') {
    if (method === 'GET') {
      if (!secret) throw new VaultHttpError(404, []);
      const version = url.searchParams.has('version') && url.searchParams.get('version') !== '0' ? Number(url.searchParams.get('version')) : secret.current_version;
      const v = secret.versions.get(version);
      if (!v) throw new VaultHttpError(404, []);
      if (v.deletion_time || v.destroyed) {
        // Vault answers 404 but still returns the version's metadata.
        return { status: 404, body: envelope({ data: null, metadata: versionMeta(v, version, secret.custom_metadata) }) };
      }
      return { status: 200, body: envelope({ data: v.data, metadata: versionMeta(v, version, secret.custom_metadata) }) };
    }
    if (method === 'POST' || method === 'PUT') {
      const data = body.data;
      if (!data || typeof data !== 'object') throw new VaultHttpError(400, ['no data provided']);
      const cas = (body.options as { cas?: unknown } | undefined)?.cas;
      if (cas === undefined && secret?.cas_required) throw new VaultHttpError(400, ['check-and-set parameter required for this call']);
      if (cas !== undefined && Number(cas) !== (secret?.current_version ?? 0)) {
        throw new VaultHttpError(400, ['check-and-set parameter did not match the current version']);
      }
      const version = putVersion(store, path, data as Record<string, unknown>);
      const s = store.get(path)!;
      return { status: 200, body: envelope(versionMeta(s.versions.get(version)!, version, s.custom_metadata)) };
    }
  }

  if (kind === 'metadata') {
    if (method === 'GET' && url.searchParams.get('list') === 'true') {
      const prefix = path ? `${path}/` : '';
      const keys = new Set<string>();
      for (const p of store.keys()) {
        if (!p.startsWith(prefix)) continue;
        const rest = p.slice(prefix.length);
        const slash = rest.indexOf('/');
        keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
      }
      if (keys.size === 0) throw new VaultHttpError(404, []);
      return { status: 200, body: envelope({ keys: [...keys].sort() }) };
    }
    if (method === 'GET') {
      if (!secret) throw new VaultHttpError(404, []);
      const versions = Object.fromEntries(
        [...secret.versions].map(([n, v]) => [String(n), { created_time: v.created_time, deletion_time: v.deletion_time, destroyed: v.destroyed }]),
      );
      return {
        status: 200,
        body: envelope({
          cas_required: secret.cas_required,
          created_time: secret.created_time,
          current_version: secret.current_version,
          custom_metadata: Object.keys(secret.custom_metadata).length ? { ...secret.custom_metadata } : null,
          delete_version_after: '0s',
          max_versions: secret.max_versions,
          oldest_version: Math.min(...secret.versions.keys(), secret.current_version),
          updated_time: secret.updated_time,
          versions,
        }),
      };
    }
    if (method === 'POST' || method === 'PUT') {
      let s = secret;
      if (!s) {
        const t = now();
        s = { versions: new Map(), current_version: 0, created_time: t, updated_time: t, max_versions: 0, cas_required: false, custom_metadata: {} };
        store.set(path, s);
      }
      if (body.custom_metadata !== undefined) {
        const cm = body.custom_metadata as Record<string, unknown>;
        const entries = Object.entries(cm ?? {});
        if (entries.length > 64) throw new VaultHttpError(400, ['custom_metadata may contain at most 64 keys']);
        for (const [k, v] of entries) {
          if (typeof v !== 'string') throw new VaultHttpError(400, ['custom_metadata values must be strings']);
          if (Buffer.byteLength(k) > 128) throw new VaultHttpError(400, ['custom_metadata keys must be at most 128 bytes']);
          if (Buffer.byteLength(v) > 512) throw new VaultHttpError(400, ['custom_metadata values must be at most 512 bytes']);
        }
        s.custom_metadata = Object.fromEntries(entries) as Record<string, string>;
      }
      if (typeof body.max_versions === 'number') s.max_versions = body.max_versions;
      if (typeof body.cas_required === 'boolean') s.cas_required = body.cas_required;
      s.updated_time = now();
      return { status: 204 };
    }
    if (method === 'DELETE') {
      store.delete(path);
      return { status: 204 };
    }
  }

  if ((kind === 'delete' || kind === 'undelete' || kind === 'destroy') && (method === 'POST' || method === 'PUT')) {
    const versions = body.versions;
    if (!Array.isArray(versions) || versions.length === 0) throw new VaultHttpError(400, ['no versions provided']);
    if (secret) {
      for (const n of versions as number[]) {
        const v = secret.versions.get(Number(n));
        if (!v) continue;
        if (kind === 'delete') v.deletion_time ||= now();
        else if (kind === 'undelete' && !v.destroyed) v.deletion_time = '';
        else if (kind === 'destroy') {
          v.destroyed = true;
          v.data = null;
        }
      }
    }
    return { status: 204 };
  }
  throw new VaultHttpError(405, ['unsupported operation']);
}

export interface VaultEmulatorOptions {
  token?: string;
  /** When set, requests must carry X-Vault-Namespace with this value to see the mounts. */
  namespace?: string;
  mounts?: string[];
}

export async function startVaultEmulator(options: VaultEmulatorOptions = {}): Promise<VaultEmulator> {
  const state = new VaultEmulatorState(options.token ?? `hvs.${randomUUID().replace(/-/g, '')}`, options.namespace ?? '', options.mounts ?? ['secret']);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const text = await readBody(req);
      const method = req.method ?? 'GET';
      const record: VaultRecordedRequest = { method, url: req.url ?? '', headers: { ...req.headers }, body: text, status: 0 };
      state.requests.push(record);
      const reply = (status: number, body?: unknown): void => {
        record.status = status;
        if (body === undefined) {
          res.writeHead(status);
          res.end();
          return;
        }
        const out = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
        res.end(out);
      };
      try {
        const fault = state.faults.find((f) => f.remaining > 0 && (!f.method || f.method === method));
        if (fault) {
          fault.remaining -= 1;
          if (fault.kind === 'sealed') throw new VaultHttpError(503, ['Vault is sealed']);
          if (fault.kind === 'rateLimit') throw new VaultHttpError(429, ['request path "x": rate limit quota exceeded']);
          throw new VaultHttpError(403, ['1 error occurred:\n\t* permission denied\n\n']);
        }
        if (req.headers['x-vault-token'] !== state.token) throw new VaultHttpError(403, ['permission denied']);
        const ns = String(req.headers['x-vault-namespace'] ?? '').replace(/^\/+|\/+$/g, '');
        const url = new URL(req.url ?? '/', 'http://vault.local');
        const out = handle(state, method, url, ns, text);
        reply(out.status, out.body);
      } catch (e) {
        if (e instanceof VaultHttpError) reply(e.status, { errors: e.errors });
        else reply(500, { errors: [(e as Error).message] });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    token: state.token,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
