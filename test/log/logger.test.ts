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
});
