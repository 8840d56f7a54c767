import { isCredentialLike, whyNotCredential } from '../heuristics.js';
import type { Rule, RuleMatch, ScanChunk } from '../types.js';

const URL_RE = /https?:\/\/[^\s"'<>`\\)\]}]+/gi;

/** Tokens in links on Clari hosts (export results, Copilot media): anything named like a credential. */
const CLARI_TOKEN_PARAMS = /^(token|access_token|auth|authtoken|key|apikey|sig|signature|x-amz-signature|x-goog-signature|jwt|t)$/i;

function detect(chunk: ScanChunk): RuleMatch[] {
  const out: RuleMatch[] = [];
  URL_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = URL_RE.exec(chunk.text)) !== null) {
    const url = m[0];
    const q = url.indexOf('?');
    if (q < 0) continue;
    const host = url.slice(url.indexOf('//') + 2).split(/[/?#:]/)[0].toLowerCase();
    const clariHost = host === 'clari.com' || host.endsWith('.clari.com');
    const query = url.slice(q + 1);
    const names = new Set<string>();
    const params: { name: string; start: number; end: number }[] = [];
    let off = m.index + q + 1;
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
      names.add(name);
      if (eq >= 0) params.push({ name, start: off + eq + 1, end: off + part.length });
      off += part.length + 1;
    }
    for (const p of params) {
      const value = chunk.text.slice(p.start, p.end).replace(/#.*$/, '');
      const end = p.start + value.length;
      const decoded = safeDecode(value);
      // X-Amz/X-Goog-Signature: S3 SigV4 and GCS V4; sig with sv/se/sp: Azure SAS; Signature with
      // Expires/Key-Pair-Id/GoogleAccessId/AWSAccessKeyId: S3 SigV2, CloudFront, GCS V2.
      let signed = false;
      if (p.name === 'x-amz-signature' || p.name === 'x-goog-signature') signed = /^[0-9a-f]{32,}$/i.test(decoded);
      else if (p.name === 'sig') signed = (names.has('sv') || names.has('se') || names.has('sp')) && decoded.length >= 20 && !whyNotPlaceholder(decoded);
      else if (p.name === 'signature')
        signed =
          (names.has('expires') || names.has('key-pair-id') || names.has('googleaccessid') || names.has('awsaccesskeyid')) &&
          decoded.length >= 20 &&
          !whyNotPlaceholder(decoded);
      if (!signed && clariHost && CLARI_TOKEN_PARAMS.test(p.name)) signed = isCredentialLike(decoded, { minLength: 16, minEntropy: 3.0 });
      if (signed) out.push({ start: p.start, end });
    }
  }
  return out;
}

/**
 * Whether the name at `nameStart` is a query parameter of a link on a Clari host that this rule reports
 * (a `token` on an export result link): clari-api-token, which runs first, leaves those to this rule.
 */
export function isClariLinkTokenParam(text: string, nameStart: number, name: string): boolean {
  const before = text.charCodeAt(nameStart - 1);
  if ((before !== 0x3f /* ? */ && before !== 0x26) /* & */ || name.toLowerCase() === 'apikey' || !CLARI_TOKEN_PARAMS.test(name)) return false;
  // The URL around it, as URL_RE reads it: back to the nearest character a URL cannot hold (bounded, so a
  // long minified line costs no more than a URL's length).
  let i = nameStart - 1;
  const stop = Math.max(0, nameStart - 8192);
  while (i > stop && !/[\s"'<>`\\)\]}]/.test(text[i - 1]!)) i--;
  const m = /https?:\/\/([^/?#:]+)[^?]*\?/i.exec(text.slice(i, nameStart));
  if (!m) return false;
  const host = m[1]!.toLowerCase();
  return host === 'clari.com' || host.endsWith('.clari.com');
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Signatures are base64/hex noise; reject the obvious stand-ins (<signature>, EXAMPLE, xxxx, ...). */
function whyNotPlaceholder(v: string): boolean {
  const why = whyNotCredential(v, { minLength: 20, minEntropy: 2.5 });
  return why !== null && why !== 'no digits' && why !== 'a single character class';
}

const AMZ_SIG = '0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8d0e9f4c'; // clariguard:allow
const SAS_SIG = 'hQ7vK2mN9pR4sT1wX6yZ3aB8cD5eF0gJ%2BkL%3D'; // clariguard:allow

export const signedDownloadUrl: Rule = {
  id: 'signed-download-url',
  description: 'A presigned or signed download URL (S3, GCS, Azure SAS, CloudFront, Clari export/Copilot links) saved in a file; they grant access until they expire',
  severity: 'medium',
  keywords: ['x-amz-signature', 'x-goog-signature', 'sig=', 'signature=', 'clari.com'],
  // The signature parameter names (after `?` or `&`), or a query with a value on a clari.com host.
  linePatterns: [
    '[?&](?:[xX]-(?:[aA][mM][zZ]|[gG][oO][oO][gG])-)?[sS][iI][gG](?:[nN][aA][tT][uU][rR][eE])?=',
    String.raw`[cC][lL][aA][rR][iI]\.[cC][oO][mM]\S*\?\S*=`,
  ],
  pattern: 'URL with X-Amz-Signature / X-Goog-Signature, Azure SAS sig= (with sv/se/sp), Signature= with Expires/Key-Pair-Id/GoogleAccessId, or a token parameter on a *.clari.com link',
  detect,
  samples: {
    truePositives: [
      { file: 'cache/export.json', text: `{"url":"https://clari-exports.s3.amazonaws.com/job/123.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=${AMZ_SIG}"}\n` },
      { file: 'notebook.ipynb', text: `    "url = \\"https://storage.googleapis.com/b/o.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-Signature=${AMZ_SIG}\\"\\n",\n` },
      { file: 'run.log', text: `downloading https://acct.blob.core.windows.net/exports/f.csv?sv=2022-11-02&se=2026-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=${SAS_SIG}\n` },
      { file: 'links.txt', text: `https://d111111abcdef8.cloudfront.net/media/call.mp4?Expires=1767225600&Signature=${SAS_SIG}&Key-Pair-Id=K2JCJMDEHXQW5F\n` },
      { file: 'export.py', text: `RESULT = "https://api.clari.com/v4/export/jobs/5f1c/results?token=Qm7Xv2Rk9Lp4Tz8Wn3Yb6Hc1"\n` },
    ],
    falsePositives: [
      { file: 'README.md', text: 'https://bucket.s3.amazonaws.com/key?X-Amz-Signature=<signature>\n' },
      { file: 'docs/azure.md', text: 'https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=xxxxxxxxxxxxxxxxxxxxxxxx\n' },
      { file: 'client.ts', text: 'const url = `https://api.clari.com/v4/export/jobs/${jobId}/results`;\n' },
      { file: 'links.md', text: 'https://example.com/search?q=signature&sig=1\n' },
      { file: 'client.py', text: 'url = "https://api.clari.com/v4/export/jobs?limit=100&token=" + token\n' },
    ],
  },
};
