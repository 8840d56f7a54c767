import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { SecretValue } from '../../src/secrets/value.js';
import { canary, expectNoLeak } from '../helpers/canary.js';

describe('logger', () => {
  it('masks known secret values wherever they appear and redacts credential fields by name', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', sink: { write: (l) => lines.push(l) } });
    const token = canary();
    const secret = new SecretValue(token);
    log.info({ url: `https://api.clari.com/v4/export?key=${encodeURIComponent(token)}` }, `calling with ${token}`);
    log.info({ headers: { apikey: 'plain-header-value-123' }, apikey: 'another-plain-value-456' }, 'request');
    log.info({ secret }, 'object');
    log.error(new Error(`failed for ${Buffer.from(token).toString('base64')}`));
    const all = lines.join('');
    expectNoLeak(all, token);
    expect(all).not.toContain('plain-header-value-123');
    expect(all).not.toContain('another-plain-value-456');
    expect(all).toContain('[redacted]');
    expect(all).toContain('***');
  });

  it('masks a secret with quotes, backslashes or newlines, which the JSON log line escapes', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', sink: { write: (l) => lines.push(l) } });
    const token = canary();
    const pem = `-----BEGIN PRIVATE KEY-----\n${token}\n"quoted\\back"\n-----END PRIVATE KEY-----`;
    new SecretValue(pem);
    log.info({ credentials: { private_key: pem } }, 'loaded');
    log.info({ payload: JSON.stringify({ private_key: pem }) }, 'nested JSON');
    for (const line of lines) expectNoLeak(line, token);
  });

  it('redacts credential-named fields at any depth and in any case, and URL passwords, even when no secret was registered', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', sink: { write: (l) => lines.push(l) } });
    const v = Array.from({ length: 9 }, (_, i) => canary(`unreg${i}`));
    log.info({ config: { warehouse: { primary: { password: v[0] } } } }, 'deep');
    log.info({ req: { headers: { 'X-Api-Key': v[1], Authorization: `Bearer ${v[2]}` } } }, 'headers');
    log.info({ clientSecret: v[3], api_key: v[4], accessToken: v[5], PGPASSWORD: v[6], list: [{ VAULT_TOKEN: v[7] }] }, 'names');
    log.info({ url: `postgres://etl:${v[8]}@db.internal:5432/clari` }, `connecting to postgres://etl:${v[8]}@db.internal/clari`);
    const all = lines.join('');
    for (const x of v) expectNoLeak(all, x);
    expect(all).toContain('postgres://etl:[redacted]@db.internal');
    expect(JSON.parse(lines[0]).config.warehouse.primary.password).toBe('[redacted]');
  });
});
