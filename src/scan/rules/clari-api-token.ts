import {
  ASSIGNMENT_LINE_PATTERNS,
  CLARI_WORD,
  NOT_A_SECRET_NAME,
  clariNear,
  forEachAssignmentOf,
  isCodeFile,
  isCredentialLike,
} from '../heuristics.js';
import type { Rule, RuleMatch, ScanChunk } from '../types.js';
import { isClariLinkTokenParam } from './signed-download-url.js';

/**
 * Any identifier, key, flag or header that could hold a credential. Whether it is a *Clari* credential is
 * decided after the match: the name itself names Clari, or it is a Clari header name (`apikey`,
 * `partnerkey`, Copilot's `X-Api-Key`/`X-Api-Password`, SDK-style `api_key`/`token`) with Clari named nearby.
 */
// Read off the shared pass (forEachAssignmentOf): non-global, tested on each name.
const NAME_KEYWORDS = /key|token|secret|passw(?:or)?d|pwd|credential|auth/i;

const CLARI_HEADER_NAMES = /^(apikey|api[_-]?key|api[_-]?token|token|access[_-]?token|auth[_-]?token|x-api-key|x-api-password|partner[_-]?key|apiKey|apiToken)$/i;

/** `partnerkey` is Clari's ingestion header; it needs no other context. */
const PARTNER_KEY = /^partner[_-]?key$/i;

function detect(chunk: ScanChunk): RuleMatch[] {
  const out: RuleMatch[] = [];
  const code = isCodeFile(chunk.file);
  forEachAssignmentOf(chunk, NAME_KEYWORDS, (rawName, at, v) => {
    const name = rawName.replace(/^-+/, '').replace(/^\$/, '');
    if (NOT_A_SECRET_NAME.test(name)) return;
    const clariName = CLARI_WORD.test(name);
    if (!clariName) {
      if (!CLARI_HEADER_NAMES.test(name)) return;
      if (!PARTNER_KEY.test(name) && !clariNear(chunk.text, at)) return;
      // A token in a Clari link's query (an export result link) is a signed URL, reported by that rule.
      if (isClariLinkTokenParam(chunk.text, at, name)) return;
    }
    // In source code an unquoted right-hand side is an expression (a variable or a call), not a literal.
    if (code && !v.quoted) return;
    const value = chunk.text.slice(v.start, v.end);
    if (!isCredentialLike(value, { minLength: 16, minEntropy: 3.0 })) return;
    out.push({ start: v.start, end: v.end });
  });
  return out;
}

// Sample values are random strings made for these tests; the trailing allow comments keep this repository's
// own scan clean without affecting the samples (the sample test calls detect() directly).
const T1 = 'q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs'; // clariguard:allow
const T2 = 'a91f3c77e2b54d08b6e1f4a2c9d3e7b5'; // clariguard:allow
const T3 = 'Zk3mQ8vR1tX6wL9pB2nY5cJ7hD4fG0sA-e_Tu'; // clariguard:allow

export const clariApiToken: Rule = {
  id: 'clari-api-token',
  description: 'A Clari API token (Revenue apikey/partnerkey or Copilot X-Api-Key/X-Api-Password) written into a file',
  severity: 'high',
  keywords: ['clari', 'partnerkey', 'partner_key', 'partner-key'],
  linePatterns: [...ASSIGNMENT_LINE_PATTERNS],
  pattern:
    'a name for a Clari credential (CLARI_API_KEY, clari_token, clariApiKey, --clari-token, apikey/partnerkey/X-Api-Key/X-Api-Password headers near api.clari.com) assigned a credential-like literal (length >= 16, mixed charset, Shannon entropy >= 3.0, not a placeholder or reference)',
  detect,
  samples: {
    truePositives: [
      { file: '.env', text: `CLARI_API_KEY=${T1}\n` },
      { file: 'config/.env.production', text: `export CLARI_API_TOKEN="${T2}"\n` },
      { file: 'app/client.py', text: `clari_token = "${T1}"\n` },
      { file: 'src/client.ts', text: `const clariApiKey = '${T3}';\n` },
      { file: 'config.yaml', text: `clari:\n  api_key: ${T2}\n  base_url: https://api.clari.com/v4\n` },
      { file: 'settings.json', text: `{ "clariApiKey": "${T1}" }\n` },
      { file: 'export.sh', text: `curl -s -X POST https://api.clari.com/v4/export/forecast/net_arr \\\n  -H "apikey: ${T3}" -d '{}'\n` },
      { file: 'ingest.py', text: `requests.post(url, headers={"partnerkey": "${T2}"})\n` },
      { file: 'copilot.sh', text: `curl https://rest-api.copilot.clari.com/calls -H 'X-Api-Key: ${T1}' -H 'X-Api-Password: ${T3}'\n` },
      { file: 'notebook.ipynb', text: `   "source": [\n    "CLARI_API_KEY = \\"${T1}\\"\\n",\n` },
      { file: 'Makefile', text: `run:\n\tclariguard-export --clari-token ${T2}\n` },
      { file: 'app.rb', text: `client = Clari::Client.new(api_key: "${T3}")\n` },
      { file: 'terraform.tfvars', text: `clari_api_key = "${T1}"\n` },
    ],
    falsePositives: [
      { file: '.env.example', text: 'CLARI_API_KEY=YOUR_API_TOKEN\n' },
      { file: 'docker-compose.yml', text: 'environment:\n  CLARI_API_KEY: ${CLARI_API_KEY}\n' },
      { file: 'src/client.ts', text: 'const clariApiKey = process.env.CLARI_API_KEY;\n' },
      { file: 'app/client.py', text: 'clari_token = os.environ["CLARI_TOKEN"]\n' },
      { file: 'app/client.py', text: 'clari_token = get_clari_token()\n' },
      { file: 'README.md', text: 'curl https://api.clari.com/v4/export/jobs -H "apikey: <token>"\n' },
      { file: 'docs/setup.md', text: 'CLARI_API_KEY=xxxxxxxxxxxxxxxxxxxxxxxx\n' },
      { file: 'docs/setup.md', text: 'CLARI_API_KEY=abcdef0123456789abcdef\n' },
      { file: '.env', text: 'CLARI_API_KEY=changeme\n' },
      { file: 'clariguard.yaml', text: 'clari_api_key: local:clari/prod/api-token\n' },
      { file: 'clariguard.yaml', text: 'clari_token_ref: aws-sm://prod/clari-token?region=eu-west-1\n' },
      { file: 'config.yaml', text: 'clari_token_url: https://api.clari.com/v4/token/8f2a91c3d4\n' },
      { file: 'analytics.js', text: 'clarity("set", "apikey", "q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs");\n' }, // clariguard:allow
      { file: 'other.sh', text: 'curl https://api.example.org -H "apikey: q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs"\n' }, // clariguard:allow
      { file: '.github/workflows/export.yml', text: 'env:\n  CLARI_API_KEY: ${{ secrets.CLARI_API_KEY }}\n' },
      { file: 'test/fixtures/env', text: 'CLARI_API_KEY=fake-token-for-tests-9f8e7d6c\n' },
      { file: 'deploy.sh', text: 'export CLARI_API_KEY="$(clariguard secret get local:clari/prod/api-token --reveal)"\n' },
    ],
  },
};
