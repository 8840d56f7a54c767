// A generated corpus for `clariguard scan`: positives (a secret in a file, with the rule that must find it)
// and decoys (things that look like secrets but are not). Deterministic for a seed. Used by test/scan and
// by bench/scan.mjs for precision and recall. Every secret here is random: none is a real credential.

// The scanner's own notion of a made-up value, so generated tokens stay ones it must report (needs dist/).
import { hasSequentialRun } from '../dist/scan/heuristics.js';

/** mulberry32: a tiny seeded PRNG, so the corpus is the same on every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function makeGen(seed) {
  const r = rng(seed);
  const pick = (alphabet, n) => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
    return s;
  };
  // Reject strings a human would read as made up (runs like abcde); real tokens essentially never have them.
  const clean = (f) => {
    for (;;) {
      const s = f();
      if (!/(.)\1\1/.test(s) && !hasSequentialRun(s)) return s;
    }
  };
  const uuid = () => {
    const h = pick(HEX, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
  };
  return {
    r,
    pick,
    /** A Clari-like token: the real format is unpublished, so vary the shape. */
    token: () => {
      const shapes = [
        () => pick(B62, 40),
        () => pick(HEX, 32),
        () => `${pick(B62, 24)}-${pick(B62, 12)}`,
        () => pick(`${B62}_-`, 43),
        () => uuid(),
        () => `${pick(B62, 8)}.${pick(B62, 32)}`,
      ];
      return clean(shapes[Math.floor(r() * shapes.length)]);
    },
    password: () => clean(() => `${pick(B62, 10)}!${pick(B62, 6)}#`),
    hex: (n) => clean(() => pick(HEX, n)),
    b64: (n) => clean(() => pick(`${B62}+/`, n)),
    b62: (n) => clean(() => pick(B62, n)),
    akid: () => clean(() => `AKIA${pick(B32, 16)}`),
    uuid,
  };
}

/**
 * Positives: { file, text, secrets: [{ ruleId, value }] }. Decoys: { file, text, secrets: [] }.
 * `known` is the value passed with --known (its cases expect clari-known-token).
 */
export function buildCorpus(seed = 1, copies = 1) {
  const g = makeGen(seed);
  const cases = [];
  const pos = (file, ruleId, make) => {
    const value = ruleId === 'clari-api-token' ? g.token() : undefined;
    const c = make(value);
    cases.push({ file, text: c.text, secrets: [{ ruleId, value: c.value ?? value }] });
  };
  const decoy = (file, text) => cases.push({ file, text, secrets: [] });
  const known = `clk_${g.b62(36)}`;

  for (let n = 0; n < copies; n++) {
    const d = `c${n}`;
    // ---- clari-api-token, in many file types and contexts
    const ct = 'clari-api-token';
    pos(`${d}/.env`, ct, (t) => ({ text: `APP_ENV=production\nCLARI_API_KEY=${t}\nLOG_LEVEL=info\n` }));
    pos(`${d}/deploy/.env.production`, ct, (t) => ({ text: `CLARI_API_TOKEN="${t}"\n` }));
    pos(`${d}/scripts/export.sh`, ct, (t) => ({ text: `#!/bin/sh\nexport CLARI_TOKEN='${t}'\nnode extract.js\n` }));
    pos(`${d}/etl/clari_client.py`, ct, (t) => ({ text: `import requests\n\nclari_api_key = "${t}"\nBASE = "https://api.clari.com/v4"\n` }));
    pos(`${d}/etl/run.py`, ct, (t) => ({ text: `from clari import ClariClient\nclient = ClariClient(api_key="${t}")\n` }));
    pos(`${d}/src/config.js`, ct, (t) => ({ text: `module.exports = {\n  clariApiKey: "${t}",\n  timeout: 30000,\n};\n` }));
    pos(`${d}/src/clari.ts`, ct, (t) => ({ text: `export const clariToken: string = '${t}';\n` }));
    pos(`${d}/config/settings.yaml`, ct, (t) => ({ text: `clari:\n  base_url: https://api.clari.com/v4\n  api_token: ${t}\n  timeout: 30\n` }));
    pos(`${d}/config/app.yml`, ct, (t) => ({ text: `clari_api_key: "${t}"\nregion: eu\n` }));
    pos(`${d}/config/secrets.json`, ct, (t) => ({ text: `{\n  "clari_api_key": "${t}",\n  "retries": 3\n}\n` }));
    pos(`${d}/docs/runbook.md`, ct, (t) => ({ text: `Run:\n\n    curl -s https://api.clari.com/v4/export/jobs \\\n      -H "apikey: ${t}"\n` }));
    pos(`${d}/etl/headers.py`, ct, (t) => ({ text: `URL = "https://api.clari.com/v4/export/forecast/net_arr"\nresp = requests.post(URL, headers={"apikey": "${t}"}, json={})\n` }));
    pos(`${d}/ingest/push.js`, ct, (t) => ({ text: `await fetch("https://api.clari.com/v2/ingest", { headers: { partnerkey: "${t}" } });\n` }));
    pos(`${d}/copilot/calls.sh`, ct, (t) => ({ text: `curl "https://rest-api.copilot.clari.com/calls?limit=100" -H "X-Api-Key: ${t}" -H "X-Api-Password: secretpw"\n` }));
    pos(`${d}/copilot/pw.py`, ct, (t) => ({ text: `COPILOT = "https://rest-api.copilot.clari.com"\nheaders = {"X-Api-Key": "k", "X-Api-Password": "${t}"}\n` }));
    pos(`${d}/notebooks/explore.ipynb`, ct, (t) => ({
      text: `{\n "cells": [\n  {\n   "cell_type": "code",\n   "source": [\n    "import os\\n",\n    "CLARI_API_KEY = \\"${t}\\"\\n"\n   ]\n  }\n ]\n}\n`,
    }));
    pos(`${d}/Dockerfile`, ct, (t) => ({ text: `FROM node:20\nENV CLARI_API_KEY=${t}\n` }));
    pos(`${d}/.github/workflows/export.yml`, ct, (t) => ({ text: `jobs:\n  export:\n    env:\n      CLARI_API_KEY: ${t}\n` }));
    pos(`${d}/infra/main.tfvars`, ct, (t) => ({ text: `clari_api_key = "${t}"\n` }));
    pos(`${d}/src/Main.java`, ct, (t) => ({ text: `class Main { static final String CLARI_API_KEY = "${t}"; }\n` }));
    pos(`${d}/cmd/main.go`, ct, (t) => ({ text: `func main() {\n\tclariToken := "${t}"\n\t_ = clariToken\n}\n` }));
    pos(`${d}/scripts/setup.ps1`, ct, (t) => ({ text: `$env:CLARI_API_KEY = "${t}"\n` }));
    pos(`${d}/conf/app.properties`, ct, (t) => ({ text: `clari.api.key=${t}\n` }));
    pos(`${d}/pyproject.toml`, ct, (t) => ({ text: `[tool.clari]\napi_key = "${t}"\n` }));
    pos(`${d}/logs/debug.log`, ct, (t) => ({ text: `2026-01-01T00:00:00Z DEBUG request to https://api.clari.com/v4/export/jobs with apikey=${t}\n` }));
    pos(`${d}/k8s/secret.yaml`, ct, (t) => ({ value: Buffer.from(t).toString('base64'), text: `apiVersion: v1\nkind: Secret\ndata:\n  clari-api-key: ${Buffer.from(t).toString('base64')}\n` }));
    pos(`${d}/Makefile`, ct, (t) => ({ text: `export:\n\tclari-export --clari-token ${t} --out data/\n` }));

    // ---- signed-download-url
    const su = 'signed-download-url';
    const amz = g.hex(64);
    pos(`${d}/cache/jobs.json`, su, () => ({
      value: amz,
      text: `{"jobId":"j1","url":"https://clari-exp.s3.amazonaws.com/x.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${g.akid()}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=${amz}"}\n`,
    }));
    const goog = g.hex(64);
    pos(`${d}/notebooks/download.ipynb`, su, () => ({
      value: goog,
      text: `{"cells":[{"outputs":[{"text":["https://storage.googleapis.com/b/f.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-Signature=${goog}\\n"]}]}]}\n`,
    }));
    const sas = encodeURIComponent(`${g.b64(43)}=`);
    pos(`${d}/logs/export.log`, su, () => ({
      value: sas,
      text: `INFO fetched https://acct.blob.core.windows.net/exports/f.csv?sv=2022-11-02&se=2026-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=${sas} ok\n`,
    }));
    const cf = g.b64(40).replace(/\+/g, '-').replace(/\//g, '~');
    pos(`${d}/data/calls.csv`, su, () => ({
      value: cf,
      text: `call_id,media_url\n1,https://d1abc.cloudfront.net/m/1.mp4?Expires=1767225600&Signature=${cf}&Key-Pair-Id=K2JCJMDEHXQW5F\n`,
    }));
    const ctok = g.b62(32);
    pos(`${d}/etl/cached_results.py`, su, () => ({
      value: ctok,
      text: `RESULTS_URL = "https://api.clari.com/v4/export/jobs/8c1e/results?token=${ctok}"\n`,
    }));

    // ---- aws-access-key
    const ak = g.akid();
    pos(`${d}/.aws/credentials`, 'aws-access-key', () => ({ value: ak, text: `[default]\naws_access_key_id = ${ak}\nregion = eu-west-1\n` }));
    const ak2 = g.akid();
    pos(`${d}/infra/deploy.sh`, 'aws-access-key', () => ({ value: ak2, text: `AWS_ACCESS_KEY_ID=${ak2} aws s3 ls\n` }));

    // ---- generic-secret
    const gs = 'generic-secret';
    const sk = g.b64(40);
    pos(`${d}/.aws/credentials2`, gs, () => ({ value: sk, text: `aws_secret_access_key = ${sk}\n` }));
    const pw = g.password();
    pos(`${d}/warehouse/.env`, gs, () => ({ value: pw, text: `PGPASSWORD=${pw}\n` }));
    const dbpw = g.b62(20);
    pos(`${d}/warehouse/dbt_profile.yml`, gs, () => ({ value: dbpw, text: `url: postgresql://loader:${dbpw}@warehouse.internal:5432/clari\n` }));
    const vt = `hvs.${g.b62(24)}`;
    pos(`${d}/ops/vault.env`, gs, () => ({ value: vt, text: `VAULT_ADDR=https://vault.internal:8200\nVAULT_TOKEN=${vt}\n` }));
    const cs = g.b62(34);
    pos(`${d}/ops/azure.py`, gs, () => ({ value: cs, text: `AZURE_CLIENT_SECRET = "${cs}"\n` }));
    const pem = g.b64(64);
    pos(`${d}/keys/sa.json`, gs, () => ({ value: pem, text: `{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\\n${pem}\\n-----END PRIVATE KEY-----\\n"}\n` }));

    // ---- clari-known-token (the --known value, raw and encoded)
    const kt = 'clari-known-token';
    cases.push({ file: `${d}/tmp/token.txt`, text: `${known}\n`, secrets: [{ ruleId: kt, value: known }] });
    const basic = Buffer.from(`svc:${known}`).toString('base64');
    cases.push({ file: `${d}/logs/http.log`, text: `GET /v4/export/jobs Authorization: Basic ${basic}\n`, secrets: [{ ruleId: kt, value: known, line: 1 }] });
    cases.push({ file: `${d}/logs/hex.log`, text: `payload=${Buffer.from(known).toString('hex')}\n`, secrets: [{ ruleId: kt, value: known, line: 1 }] });

    // ---- decoys
    decoy(`${d}/.env.example`, 'CLARI_API_KEY=YOUR_API_TOKEN\nCLARI_TOKEN=<token>\nPGPASSWORD=changeme\n');
    decoy(`${d}/docker-compose.yml`, 'services:\n  etl:\n    environment:\n      CLARI_API_KEY: ${CLARI_API_KEY}\n      PGPASSWORD: ${PGPASSWORD}\n');
    decoy(`${d}/src/env.ts`, 'export const clariApiKey = process.env.CLARI_API_KEY ?? "";\nconst password = process.env.PGPASSWORD;\n');
    decoy(`${d}/etl/env.py`, 'clari_token = os.environ["CLARI_TOKEN"]\nclari_api_key = os.getenv("CLARI_API_KEY")\npassword = getpass.getpass()\n');
    decoy(`${d}/etl/lookup.py`, 'clari_api_key = load_secret("local:clari/prod/api-token")\n');
    decoy(`${d}/clariguard.yaml`, 'clari_api_key: local:clari/prod/api-token\nclari_token_ref: aws-sm://prod/clari?region=eu-west-1\nwarehouse_password: vault://secret/wh#password\n');
    decoy(`${d}/.github/workflows/ci.yml`, 'env:\n  CLARI_API_KEY: ${{ secrets.CLARI_API_KEY }}\n  AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET }}\n');
    decoy(`${d}/docs/setup.md`, 'Set `CLARI_API_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxx` or `CLARI_API_KEY=abcdef1234567890abcdef`.\n\n    curl https://api.clari.com/v4/export/jobs -H "apikey: $CLARI_API_KEY"\n    curl https://api.clari.com/v4/export/jobs -H "apikey: <your token>"\n');
    decoy(`${d}/docs/aws.md`, 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n');
    decoy(`${d}/data/ids.json`, `{"requestId": "${g.uuid()}", "jobId": "${g.uuid()}", "orgId": "${g.uuid()}"}\n`);
    decoy(`${d}/CHANGELOG.md`, `## 1.2.0\n- fix export (${g.hex(40)})\n- merge ${g.hex(40)}\n`);
    decoy(`${d}/checksums.txt`, `${g.hex(64)}  clariguard-linux-x64.tar.gz\nsha256: ${g.hex(64)}\n`);
    decoy(`${d}/package-lock.json`, `{\n  "packages": {\n    "node_modules/js-tokens": {\n      "version": "4.0.0",\n      "resolved": "https://registry.npmjs.org/js-tokens/-/js-tokens-4.0.0.tgz",\n      "integrity": "sha512-${g.b64(86)}=="\n    }\n  }\n}\n`);
    decoy(`${d}/yarn.lock`, `js-tokens@^4.0.0:\n  version "4.0.0"\n  resolved "https://registry.yarnpkg.com/js-tokens/-/js-tokens-4.0.0.tgz#${g.hex(40)}"\n  integrity sha512-${g.b64(86)}==\n`);
    decoy(`${d}/test/fixtures/clari.env`, `CLARI_API_KEY=${g.b62(40)} # clariguard:allow test fixture\nCLARI_TOKEN=fake-token-for-tests-${g.hex(8)}\n`);
    decoy(`${d}/test/client.test.ts`, `const clariApiKey = "test_${g.b62(24)}"; // mock\nconst token = "dummy-${g.hex(16)}";\n`);
    // Not Clari ("clarity" is Microsoft Clarity, api.example.org is someone else): still a hard-coded API key,
    // so generic-secret reports it and clari-api-token must not.
    const clarityKey = g.b62(32);
    cases.push({ file: `${d}/web/analytics.js`, text: `clarity("set", "apikey", "${clarityKey}");\n`, secrets: [{ ruleId: 'generic-secret', value: clarityKey }] });
    const otherKey = g.b62(32);
    cases.push({ file: `${d}/other/api.sh`, text: `curl https://api.example.org/v1 -H "apikey: ${otherKey}"\n`, secrets: [{ ruleId: 'generic-secret', value: otherKey }] });
    decoy(`${d}/web/img.html`, `<img src="data:image/png;base64,${g.b64(120)}">\n`);
    decoy(`${d}/src/urls.ts`, 'const results = `https://api.clari.com/v4/export/jobs/${jobId}/results`;\nconst signed = "https://b.s3.amazonaws.com/k?X-Amz-Signature=<signature>";\n');
    decoy(`${d}/src/names.py`, 'token_type = "Bearer"\nclari_token_url = "https://api.clari.com/v4/token"\nsecret_name = "clari-prod-api-token"\nclari_token_env = "CLARI_API_KEY"\n');
    decoy(`${d}/etl/audit.py`, `clari_token_sha256 = "${g.hex(64)}"\nclari_api_key_fingerprint = "${g.hex(40)}"\nCLARI_API_KEY = None\nclari_api_key = ""\n`);
    decoy(`${d}/cmd/env.go`, 'clariAPIKey := os.Getenv("CLARI_API_KEY")\nreq.Header.Set("apikey", clariAPIKey) // https://api.clari.com/v4\n');
    decoy(`${d}/logs/clariguard.log`, 'stored local:clari/prod/api-token (version 3, current): cl****…**9f\nCLARI_API_KEY=q7Rv****\n');
    decoy(`${d}/infra/secrets.tf`, 'clari_api_key_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/clari-AbCdEf"\n');
    decoy(`${d}/scripts/jobs.sh`, 'curl https://api.clari.com/v4/export/jobs -H "apikey: $CLARI_API_KEY"\ncurl https://api.clari.com/v4/export/jobs -H "apikey: ${CLARI_API_KEY:?}"\n');
    decoy(`${d}/src/keys.js`, `const cacheKey = "user:${g.hex(12)}:profile";\nconst primaryKey = "id";\nconst idempotencyKey = "${g.uuid()}";\n`);
  }
  return { cases, known };
}

/**
 * Scores findings against the corpus: a positive is found when a finding of its rule is on a line that
 * holds the secret; any other finding is a false positive.
 */
export function score(cases, findings, prefix = '') {
  let tp = 0;
  let fn = 0;
  let fp = 0;
  const missed = [];
  const wrong = [];
  const byFile = new Map();
  for (const f of findings) {
    const list = byFile.get(f.file) ?? [];
    list.push(f);
    byFile.set(f.file, list);
  }
  const used = new Set();
  for (const c of cases) {
    const file = `${prefix}${c.file}`;
    const fs = byFile.get(file) ?? [];
    const lines = c.text.split('\n');
    for (const s of c.secrets) {
      const hit = fs.find(
        (f) => !used.has(f) && f.ruleId === s.ruleId && (s.line ? f.line === s.line : lines[f.line - 1]?.includes(s.value.slice(0, 4))),
      );
      if (hit) {
        used.add(hit);
        tp++;
      } else {
        fn++;
        missed.push(`${file} (${s.ruleId})`);
      }
    }
  }
  for (const f of findings) {
    if (!used.has(f)) {
      fp++;
      wrong.push(`${f.file}:${f.line} (${f.ruleId})`);
    }
  }
  const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 1 : tp / (tp + fn);
  return { tp, fp, fn, precision, recall, missed, wrong };
}
