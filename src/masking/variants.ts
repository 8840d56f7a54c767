/**
 * The encoded forms under which a secret can leak: raw, base64 (standard and url-safe, at every byte
 * alignment so the value is also caught inside a longer base64 blob such as an `Authorization: Basic`
 * header), URL-encoded (RFC 3986 and form encoding) and hex (both cases).
 */
const MIN_FRAGMENT = 6;

function base64Fragments(value: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  const out = new Set<string>();
  const whole = value.toString(alphabet);
  out.add(whole);
  if (alphabet === 'base64') out.add(whole.replace(/=+$/, ''));
  // When the value sits at byte offset 1 or 2 of a longer payload, the characters that encode only
  // value bytes are stable; the ones mixing in neighbouring bytes are not, so trim them.
  for (const shift of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(shift), value]);
    const enc = padded.toString(alphabet).replace(/=+$/, '');
    const startChars = Math.ceil((shift * 8) / 6);
    const stableEndBits = (shift + value.length) * 8;
    const endChars = Math.floor(stableEndBits / 6);
    const fragment = enc.slice(startChars, endChars);
    if (fragment.length >= MIN_FRAGMENT) out.add(fragment);
  }
  return [...out];
}

function urlEncodings(value: string): string[] {
  const rfc = encodeURIComponent(value);
  const form = new URLSearchParams({ v: value }).toString().slice(2);
  const strict = rfc.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const lowerHex = rfc.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  return [rfc, form, strict, lowerHex];
}

/** All forms of `value` worth masking, longest first, deduplicated, excluding ones too short to be safe. */
export function secretVariants(value: string): string[] {
  if (value.length === 0) return [];
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Set<string>([value]);
  for (const f of base64Fragments(bytes, 'base64')) forms.add(f);
  for (const f of base64Fragments(bytes, 'base64url')) forms.add(f);
  for (const f of urlEncodings(value)) forms.add(f);
  const hex = bytes.toString('hex');
  forms.add(hex);
  forms.add(hex.toUpperCase());
  // A value with quotes, backslashes or control characters (a PEM, a service-account JSON, a password) is
  // escaped inside any JSON a logger or a child prints: its raw form never occurs there.
  const json = JSON.stringify(value).slice(1, -1);
  forms.add(json);
  // Escaped once more when that JSON is itself a string field (a log line carrying a JSON payload).
  forms.add(JSON.stringify(json).slice(1, -1));
  return [...forms].filter((f) => f.length >= Math.min(MIN_FRAGMENT, value.length)).sort((a, b) => b.length - a.length);
}

/**
 * The value's base64 as line-wrapping encoders print it (`base64` wraps at 76 columns, `openssl base64` at 64,
 * with LF or CRLF): for a value whose base64 is longer than a line, the plain forms above never match that
 * output. Only the encoding that starts with the value (`echo $TOKEN | base64`), where the breaks fall at
 * known places; the characters after the value's last stable one are left out, as for the plain form.
 */
export function wrappedBase64Variants(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const stable = bytes.toString('base64').slice(0, Math.floor((bytes.length * 8) / 6));
  const out: string[] = [];
  for (const width of [64, 76]) {
    if (stable.length <= width) continue;
    const lines: string[] = [];
    for (let i = 0; i < stable.length; i += width) lines.push(stable.slice(i, i + width));
    out.push(lines.join('\n'), lines.join('\r\n'));
  }
  return out;
}
