import { describe, expect, it } from 'vitest';
import { parseSecretRef } from '../../src/secrets/ref.js';

describe('secret references', () => {
  it.each([
    ['local:clari/prod/api-token', { scheme: 'local', path: 'clari/prod/api-token' }],
    ['env:CLARI_API_KEY', { scheme: 'env', path: 'CLARI_API_KEY' }],
    ['aws-sm://clari/prod/api-token?region=us-east-1&profile=ops', { scheme: 'aws-sm', path: 'clari/prod/api-token', params: { region: 'us-east-1', profile: 'ops' } }],
    ['vault://secret/clari/prod#token', { scheme: 'vault', path: 'secret/clari/prod', fragment: 'token' }],
    ['gcp-sm://projects/p1/secrets/clari-token', { scheme: 'gcp-sm', path: 'projects/p1/secrets/clari-token' }],
    ['azure-kv://my-vault/clari-token', { scheme: 'azure-kv', path: 'my-vault/clari-token' }],
    ['op://Eng/Clari/credential', { scheme: 'op', path: 'Eng/Clari/credential' }],
    ['dotenv:.env#CLARI_API_KEY', { scheme: 'dotenv', path: '.env', fragment: 'CLARI_API_KEY' }],
  ])('parses %s', (input, expected) => {
    const r = parseSecretRef(input);
    expect(r).toMatchObject(expected);
    expect(parseSecretRef(r.raw)).toMatchObject(expected);
  });

  it('rejects unknown schemes, empty names and dot segments', () => {
    expect(() => parseSecretRef('s3://bucket/x')).toThrow(/unknown secret store/);
    expect(() => parseSecretRef('local:')).toThrow(/no name/);
    expect(() => parseSecretRef('local:a/../b')).toThrow(/segments/);
  });

  it('never echoes a pasted token back in the error', () => {
    const token = 'q8Zr2LxN0vT4yW7bK1mC5dF9hJ3gP6sA';
    let message = '';
    try {
      parseSecretRef(token);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/not shown/);
    expect(message).not.toContain(token);
  });
});
