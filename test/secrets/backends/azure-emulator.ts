/**
 * An Azure Key Vault (secrets, REST API 7.x) emulator. The real `@azure/keyvault-secrets` client refuses
 * plain http and authenticates with the Key Vault challenge protocol, so tests keep its https vault URL
 * and swap only the transport: `emulatorHttpClient()` sends each request to this loopback server instead
 * (the SDK's whole pipeline — challenge auth, retries, serialisation — still runs).
 *
 * Semantics: every PUT creates a new version (32-hex id); GET without a version returns the newest
 * version, 403 `Forbidden` if that version is disabled; PATCH updates one version's tags/enabled; versions
 * cannot be deleted individually; DELETE soft-deletes the secret (then PUT answers 409 Conflict);
 * requests without a bearer token get 401 with the `WWW-Authenticate` challenge; errors are
 * `{"error": {"code": ..., "message": ...}}`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';

export interface AzureVersion {
  id: string;
  value: string;
  enabled: boolean;
  created: number;
  updated: number;
  tags: Record<string, string>;
  contentType?: string;
}

export interface AzureSecret {
  versions: AzureVersion[];
  deleted?: number;
}

export class AzureEmulatorState {
  readonly secrets = new Map<string, AzureSecret>();
  readonly requests: { method: string; url: string; headers: Record<string, unknown>; body: string; status: number }[] = [];
  readonly denied = new Set<string>();
  faults: { status: number; remaining: number }[] = [];
  constructor(public token: string) {}
  reset(): void {
    this.secrets.clear();
    this.requests.length = 0;
    this.denied.clear();
    this.faults = [];
  }
  wireText(): string {
    return this.requests.map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`).join('\n');
  }
}

class KvError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function item(host: string, name: string, v: AzureVersion, withValue: boolean): Record<string, unknown> {
  return {
    ...(withValue ? { value: v.value } : {}),
    id: `https://${host}/secrets/${name}/${v.id}`,
    ...(v.contentType ? { contentType: v.contentType } : {}),
    attributes: { enabled: v.enabled, created: v.created, updated: v.updated, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 },
    tags: v.tags,
  };
}

function handle(state: AzureEmulatorState, host: string, method: string, url: URL, body: Record<string, unknown>): { status: number; body: unknown } {
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const now = Math.floor(Date.now() / 1000);
  const live = (name: string): AzureSecret => {
    const s = state.secrets.get(name);
    if (!s || s.deleted) throw new KvError(404, 'SecretNotFound', `A secret with (name/id) ${name} was not found in this key vault.`);
    return s;
  };
  if (parts[0] === 'secrets' && parts.length === 1 && method === 'GET') {
    const value = [...state.secrets.entries()].filter(([, s]) => !s.deleted && s.versions.length).map(([n, s]) => {
      const newest = s.versions[s.versions.length - 1];
      const it = item(host, n, newest, false);
      return { ...it, id: `https://${host}/secrets/${n}` };
    });
    return { status: 200, body: { value, nextLink: null } };
  }
  if (parts[0] === 'secrets' && parts.length >= 2) {
    const name = parts[1];
    if (state.denied.has(`${method} ${name}`)) throw new KvError(403, 'Forbidden', `Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'`);
    if (method === 'PUT' && parts.length === 2) {
      const existing = state.secrets.get(name);
      if (existing?.deleted) throw new KvError(409, 'Conflict', `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`);
      if (typeof body.value !== 'string') throw new KvError(400, 'BadParameter', 'value is required');
      const s = existing ?? { versions: [] };
      const attrs = (body.attributes as { enabled?: boolean } | undefined) ?? {};
      const v: AzureVersion = {
        id: randomBytes(16).toString('hex'),
        value: body.value,
        enabled: attrs.enabled !== false,
        created: now,
        updated: now,
        tags: (body.tags as Record<string, string>) ?? {},
        contentType: body.contentType as string | undefined,
      };
      // Distinct creation seconds keep "newest" unambiguous in fast tests.
      const last = s.versions[s.versions.length - 1];
      if (last && v.created <= last.created) v.created = v.updated = last.created + 1;
      s.versions.push(v);
      state.secrets.set(name, s);
      return { status: 200, body: item(host, name, v, true) };
    }
    if (method === 'GET' && parts[2] === 'versions') {
      const s = live(name);
      return { status: 200, body: { value: s.versions.map((v) => item(host, name, v, false)), nextLink: null } };
    }
    if (method === 'GET') {
      const s = live(name);
      const v = parts[2] ? s.versions.find((x) => x.id === parts[2]) : s.versions[s.versions.length - 1];
      if (!v) throw new KvError(404, 'SecretNotFound', `A secret with (name/id) ${name}/${parts[2]} was not found in this key vault.`);
      if (!v.enabled) throw new KvError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.');
      return { status: 200, body: item(host, name, v, true) };
    }
    if (method === 'PATCH' && parts[2]) {
      const s = live(name);
      const v = s.versions.find((x) => x.id === parts[2]);
      if (!v) throw new KvError(404, 'SecretNotFound', `A secret with (name/id) ${name}/${parts[2]} was not found in this key vault.`);
      if (body.tags !== undefined) v.tags = (body.tags as Record<string, string>) ?? {};
      const attrs = body.attributes as { enabled?: boolean } | undefined;
      if (attrs?.enabled !== undefined) v.enabled = attrs.enabled;
      if (typeof body.contentType === 'string') v.contentType = body.contentType;
      v.updated = now;
      return { status: 200, body: item(host, name, v, false) };
    }
    if (method === 'DELETE' && parts.length === 2) {
      const s = live(name);
      s.deleted = now;
      const newest = s.versions[s.versions.length - 1];
      return {
        status: 200,
        body: { ...item(host, name, newest, false), recoveryId: `https://${host}/deletedsecrets/${name}`, deletedDate: now, scheduledPurgeDate: now + 90 * 86400 },
      };
    }
  }
  if (parts[0] === 'deletedsecrets' && parts[1] && method === 'GET') {
    const s = state.secrets.get(parts[1]);
    if (!s?.deleted) throw new KvError(404, 'SecretNotFound', `Deleted Secret not found: ${parts[1]}`);
    const newest = s.versions[s.versions.length - 1];
    return {
      status: 200,
      body: { ...item(host, parts[1], newest, false), recoveryId: `https://${host}/deletedsecrets/${parts[1]}`, deletedDate: s.deleted, scheduledPurgeDate: s.deleted + 90 * 86400 },
    };
  }
  throw new KvError(400, 'BadParameter', `unsupported ${method} ${url.pathname}`);
}

export interface AzureKeyVaultEmulator {
  port: number;
  state: AzureEmulatorState;
  /** A transport for SecretClient that sends every request to the emulator (keeps the https URL). */
  httpClient(): HttpClient;
  close(): Promise<void>;
}

export async function startAzureKeyVaultEmulator(options: { token?: string; tenant?: string } = {}): Promise<AzureKeyVaultEmulator> {
  const state = new AzureEmulatorState(options.token ?? `eyJ${randomUUID().replace(/-/g, '')}`);
  const tenant = options.tenant ?? '72f988bf-0000-4000-8000-000000000000';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? 'GET';
      const rec = { method, url: req.url ?? '', headers: { ...req.headers } as Record<string, unknown>, body: text, status: 0 };
      state.requests.push(rec);
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        rec.status = status;
        const out = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(out), 'x-ms-request-id': randomUUID(), ...headers });
        res.end(out);
      };
      try {
        const url = new URL(req.url ?? '/', 'http://kv.local');
        if (!url.searchParams.get('api-version')) throw new KvError(400, 'BadParameter', 'api-version is required');
        const auth = String(req.headers.authorization ?? '');
        if (!auth) {
          reply(401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, {
            'WWW-Authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenant}", resource="https://vault.azure.net"`,
          });
          return;
        }
        if (auth !== `Bearer ${state.token}`) throw new KvError(401, 'Unauthorized', 'AKV10032: Invalid issuer.');
        const fault = state.faults.find((f) => f.remaining > 0);
        if (fault) {
          fault.remaining -= 1;
          throw new KvError(fault.status, fault.status === 429 ? 'Throttled' : 'ServiceUnavailable', 'injected fault');
        }
        const host = String(req.headers['x-emulated-host'] ?? 'vault.vault.azure.net');
        const out = handle(state, host, method, url, text ? (JSON.parse(text) as Record<string, unknown>) : {});
        reply(out.status, out.body);
      } catch (e) {
        if (e instanceof KvError) reply(e.status, { error: { code: e.code, message: e.message } });
        else reply(500, { error: { code: 'InternalError', message: (e as Error).message } });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    state,
    httpClient(): HttpClient {
      const inner = createDefaultHttpClient();
      return {
        async sendRequest(request) {
          const original = request.url;
          const u = new URL(original);
          request.url = `http://127.0.0.1:${port}${u.pathname}${u.search}`;
          request.headers.set('x-emulated-host', u.host);
          const insecure = request.allowInsecureConnection;
          request.allowInsecureConnection = true;
          try {
            return await inner.sendRequest(request);
          } finally {
            // The auth policy re-sends this request after the challenge and insists on https.
            request.url = original;
            request.allowInsecureConnection = insecure;
          }
        },
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
