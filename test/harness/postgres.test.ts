import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgServer } from '../helpers/postgres.js';

describe('throwaway PostgreSQL harness', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.stop());

  it('accepts connections on a loopback port', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const r = await client.query('select current_setting($1) as port', ['port']);
    expect(Number(r.rows[0].port)).toBe(server.port);
    await client.end();
  });
});
