import type { Rule, RuleMatch, ScanChunk } from '../types.js';

/** AWS access key ids: a 4-letter type prefix and 16 base32 characters. */
const AKID = /(?<![A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16})(?![A-Za-z0-9])/g;

function detect(chunk: ScanChunk): RuleMatch[] {
  const out: RuleMatch[] = [];
  AKID.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = AKID.exec(chunk.text)) !== null) {
    const id = m[1];
    if (/EXAMPLE|XXXX|TEST|FAKE|DUMMY/.test(id)) continue; // AWS documentation uses AKIAIOSFODNN7EXAMPLE
    // Inside a presigned URL the key id is a public part of the signature scope; signed-download-url reports the URL.
    const before = chunk.text.slice(Math.max(0, m.index - 20), m.index).toLowerCase();
    if (/(x-amz-credential=|awsaccesskeyid=)$/.test(before)) continue;
    out.push({ start: m.index, end: m.index + id.length });
  }
  return out;
}

const K1 = ['AKIA', 'ZQ4TN7JW2XK5RB3D'].join(''); // clariguard:allow
const K2 = ['ASIA', 'Y6HV2PLM3QWE7RTX'].join(''); // clariguard:allow

export const awsAccessKey: Rule = {
  id: 'aws-access-key',
  description: 'An AWS access key id (guards AWS Secrets Manager and the export buckets)',
  severity: 'high',
  keywords: ['akia', 'asia', 'abia', 'acca', 'agpa', 'aida', 'aroa', 'aipa', 'anpa', 'anva', 'apka'],
  linePatterns: ['A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA)[A-Z2-7]{16}'],
  pattern: '(AKIA|ASIA|ABIA|ACCA|...)[A-Z2-7]{16}, except documentation examples',
  detect,
  samples: {
    truePositives: [
      { file: '.aws/credentials', text: `[default]\naws_access_key_id = ${K1}\n` },
      { file: 'deploy.sh', text: `export AWS_ACCESS_KEY_ID=${K2}\n` },
      { file: 'config.json', text: `{"accessKeyId":"${K1}"}\n` },
    ],
    falsePositives: [
      { file: 'docs/aws.md', text: 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n' },
      { file: 'ids.txt', text: 'PAKIAZQ4TN7JW2XK5RB3DX\n' },
      { file: 'lower.txt', text: 'akiazq4tn7jw2xk5rb3d\n' },
      { file: 'url.log', text: 'X-Amz-Credential=AKIAZQ4TN7JW2XK5RB3D%2F20260101%2Fus-east-1\n' }, // clariguard:allow
    ],
  },
};
