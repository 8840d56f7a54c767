import { describe, expect, it } from 'vitest';
import { isEnvFileName, isTemplateName, templateHoldsNoValues } from '../../src/audit/checks/env-files-ignored.js';

describe('env file names and templates', () => {
  it('recognises env files and templates by name', () => {
    for (const n of ['.env', '.env.local', '.env.production', '.envrc', 'prod.env']) expect(isEnvFileName(n), n).toBe(true);
    for (const n of ['env.ts', 'environment.yml', 'README.md']) expect(isEnvFileName(n), n).toBe(false);
    for (const n of ['.env.example', '.env.sample', '.env.template', 'prod.env.dist']) expect(isTemplateName(n), n).toBe(true);
    expect(isTemplateName('.env.local')).toBe(false);
  });

  it('allows placeholders and plain settings, not secrets', () => {
    const ok = [
      'CLARI_API_KEY=\nWAREHOUSE_URL=\n',
      '# comment\nexport CLARI_API_KEY="<your Clari API token>"\nPASSWORD=changeme\nTOKEN=${CLARI_TOKEN}\nSECRET=xxxx\n',
      'PORT=8080\nLOG_LEVEL=info\nNODE_ENV=development\nCLARI_BASE_URL=https://api.clari.com/v4\nDEBUG=false\n',
      'DATABASE_URL=postgres://user:<password>@localhost/clari\n',
      'AUTH_ENDPOINT=https://login.example.com/oauth\n',
    ];
    for (const t of ok) expect(templateHoldsNoValues(t), t).toBe(true);
    const bad = [
      'CLARI_API_KEY=sk_live_abc\n',
      "export API_TOKEN='hunter2'\n",
      'SOMETHING=Zx8pQ2vL7mN4rT6yB1cD9fG3\n',
      'DATABASE_URL=postgres://clari:S3cr3tPass@db.internal/clari\n',
    ];
    for (const t of bad) expect(templateHoldsNoValues(t), t).toBe(false);
  });
});
