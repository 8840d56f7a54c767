import type { CountryCode } from 'libphonenumber-js';
import { phoneLib } from './phone-lib.js';

/** A PII span found in a string: [start, end) in UTF-16 code units, as String.prototype.slice uses. */
export interface Span {
  start: number;
  end: number;
  kind: 'email' | 'phone' | 'roster-name' | 'credential';
  value: string;
  /** E.164 for phones; the canonical roster entry for roster names. */
  normalized?: string;
}

// RFC 5322 "dot-atom" local part and a hostname with at least one dot; good enough for exports, where
// addresses are machine-written. The '@' pre-check keeps this off the hot path for most strings.
// Letters and digits of any script too (RFC 6531 addresses, `josé.álvarez@acme.com`, `ana@münchen.de`):
// an ASCII-only pattern matched only the tail after the last accent and left the start of the address.
const EMAIL_RE = /[\p{L}\p{M}\p{N}.!#$%&'*+/=?^_`{|}~-]+@[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]{0,61}[\p{L}\p{M}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]{0,61}[\p{L}\p{M}\p{N}])?)+/gu;

// An address inside a URL's query (`?shared_by=ana.silva%40acme.com`, `mailto:ana%40acme.com`): '@' written
// %40, the local part possibly holding other escapes (%2B for '+').
const URL_EMAIL_RE = /(?:[A-Za-z0-9._~!$'*+-]|%[0-9A-Fa-f]{2})+%40[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+/g;

/** Emails, also URL-encoded ones (their `normalized` is the decoded address, which the pseudonym is of). */
export function findEmails(text: string): Span[] {
  const out: Span[] = [];
  if (text.length >= 6 && /%40/i.test(text)) {
    URL_EMAIL_RE.lastIndex = 0;
    for (let m = URL_EMAIL_RE.exec(text); m; m = URL_EMAIL_RE.exec(text)) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(m[0]);
      } catch {
        continue;
      }
      const at = decoded.lastIndexOf('@');
      if (at <= 0 || /[\s@<>()[\]\\,;:"]/.test(decoded.slice(0, at))) continue;
      out.push({ start: m.index, end: m.index + m[0].length, kind: 'email', value: m[0], normalized: decoded });
    }
  }
  if (text.indexOf('@') < 0) return out;
  EMAIL_RE.lastIndex = 0;
  for (let m = EMAIL_RE.exec(text); m; m = EMAIL_RE.exec(text)) {
    let value = m[0];
    let start = m.index;
    // Trim punctuation a sentence puts around an address ("mail ana@x.com." / "'ana@x.com'").
    while (value.length && /[.'`{|}~!#$%&*+/=?^-]/.test(value[0]!)) {
      value = value.slice(1);
      start++;
    }
    if (value.indexOf('@') <= 0) continue;
    out.push({ start, end: start + value.length, kind: 'email', value });
  }
  return out;
}

/** Digits are the cheap tell: fewer than 7 and no library call is needed. */
export function countDigits(text: string, stopAt = 7): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++n >= stopAt) return n;
  }
  return n;
}

// Machine-written values that carry many digits but are never phone numbers: ISO dates and times, plain
// decimals and amounts. Skipping them avoids the (comparatively slow) phone parser on most strings.
const NOT_PHONE_RE = /^(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?|[-+]?[$€£]?\d[\d,]*(?:\.\d+)?|\d{1,2}\/\d{1,2}\/\d{2,4}|\d{4}_Q\d)$/;

// "0044 20 7946 0958": the 00 international prefix most of the world dials. Read as "+" (same length, so the
// spans stay where they are), since the US default region only knows its own 011.
const IDD_00_RE = /(?<![\p{L}\p{N}_+])00(?=[ .-]?[1-9])/gu;

export function withPlusForIdd00(text: string): string {
  return text.includes('00') ? text.replace(IDD_00_RE, ' +') : text;
}

/**
 * A number the numbering plan does not know (a fictional 555 area code, a test-data generator's random
 * exchange) is still someone's number to whoever wrote it: kept when written as phones are, with a leading
 * "+" or in three or more groups of 10+ digits, never as a bare digit run (ids, order numbers, amounts).
 */
function phoneShaped(value: string, callingCode: string, national: string): boolean {
  // NANP area codes and exchanges start with 2-9: "100-200-3000" or "1 250 000 000" are not numbers.
  if (callingCode === '1' && !/^[2-9]\d\d[2-9]/.test(national)) return false;
  const digits = countDigits(value, 99);
  if (value.startsWith('+')) return digits >= 8;
  return digits >= 10 && (value.match(/\d+/g)?.length ?? 0) >= 3;
}

const WORD_CHAR_RE = /[\p{L}\p{N}_]/u;

/**
 * Digits inside a longer token ("4702-3879-4731" in the UUID 67ad4702-3879-4731-86ff-…, a hash, an id): a
 * letter, digit or underscore right before or after the match, or a hyphen joining it to one. The lenient
 * matcher would take those for numbers.
 */
function embedded(t: string, s: number, e: number): boolean {
  const before = t[s - 1];
  const after = t[e];
  if (before !== undefined && (WORD_CHAR_RE.test(before) || (before === '-' && WORD_CHAR_RE.test(t[s - 2] ?? '')))) return true;
  return after !== undefined && (WORD_CHAR_RE.test(after) || (after === '-' && WORD_CHAR_RE.test(t[e + 1] ?? '')));
}

/** Phone numbers via libphonenumber-js (its numbering plan and possible lengths, not a home-made regex). */
export function findPhoneNumbers(text: string, defaultCountry: string = 'US'): Span[] {
  if (countDigits(text) < 7 || NOT_PHONE_RE.test(text)) return [];
  const scanned = withPlusForIdd00(text);
  const out: Span[] = [];
  for (const f of phonesIn(scanned, defaultCountry)) {
    if (embedded(scanned, f.startsAt, f.endsAt)) continue;
    let start = f.startsAt;
    // The " +" that stood for "00" starts one character early: the span keeps both zeros.
    if (scanned !== text && scanned[start] === '+' && text[start] === '0' && text[start - 1] === '0') start--;
    // "(+44 20 7946 0958)": the parser may take the opening bracket of the surrounding text.
    if (text[start] === '(' && !text.slice(start, f.endsAt).includes(')')) start++;
    out.push({ start, end: f.endsAt, kind: 'phone', value: text.slice(start, f.endsAt), normalized: f.e164 });
  }
  return out;
}

export interface PhoneFind {
  startsAt: number;
  endsAt: number;
  e164: string;
}

/**
 * What the library finds in `text` (numbers it deems valid, or phone-shaped ones), remembered by the digits'
 * neighbourhood: a note repeats a rep's number in front of ever different words, and the matcher costs
 * 10-25 µs a call. Its leniency (POSSIBLE) reads nothing outside a candidate but the characters right after it,
 * and a candidate starts at a bracket, a plus or a digit and is made of digits and punctuation, so the run
 * from the first digit back over non-alphanumeric characters to the last digit and the punctuation after it
 * holds everything the call depends on. Text with characters outside ASCII (other scripts' digits) is passed
 * whole.
 */
export function phonesIn(text: string, country: string): PhoneFind[] {
  let first = -1;
  let last = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      first = -1;
      break;
    }
    if (c >= 48 && c <= 57) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) return phonesInWholeText(text, country);
  let s = first;
  while (s > 0 && !isAlnumAscii(text.charCodeAt(s - 1))) s--;
  let e = last + 1;
  while (e < text.length && !isAlnumAscii(text.charCodeAt(e))) e++;
  const window = text.slice(s, e);
  const key = `${country}\u0000${window}`;
  let found = PHONE_CACHE.get(key);
  if (found === undefined) {
    found = phonesInWholeText(window, country);
    if (PHONE_CACHE.size >= PHONE_CACHE_LIMIT) PHONE_CACHE.clear();
    PHONE_CACHE.set(key, found);
  }
  return s === 0 ? found : found.map((f) => ({ startsAt: f.startsAt + s, endsAt: f.endsAt + s, e164: f.e164 }));
}

const PHONE_CACHE = new Map<string, PhoneFind[]>();
const PHONE_CACHE_LIMIT = 8192;

function isAlnumAscii(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** The library's finds over the whole of `text` (what phonesIn must equal). */
export function phonesInWholeText(text: string, country: string): PhoneFind[] {
  return (
    phoneLib()
      // `leniency` is an option of the library's implementation its typings leave out.
      .findPhoneNumbersInText(text, { defaultCountry: country as CountryCode, leniency: 'POSSIBLE' } as { defaultCountry: CountryCode })
      .filter((f) => f.number.isValid() || phoneShaped(text.slice(f.startsAt, f.endsAt), f.number.countryCallingCode as string, f.number.nationalNumber as string))
      .map((f) => ({ startsAt: f.startsAt, endsAt: f.endsAt, e164: f.number.number as string }))
  );
}

// Credentials are detected by form (AWS key ids have a fixed prefix) or by context (a Clari token's format
// is not published, so only a value next to `apikey`, `X-Api-Key`, `clari...token` etc. is recognisable).
const CREDENTIAL_RES: RegExp[] = [
  /\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g,
  /(?<=\baws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/gi,
  /(?<=\b(?:apikey|api[_-]key|x-api-key|x-api-password|clari[_-]?(?:api[_-]?)?(?:token|key|secret|password))["']?\s*[:=]\s*["']?(?:bearer\s+)?)[A-Za-z0-9._~+/=-]{12,}/gi,
  /(?<=\bauthorization["']?\s*[:=]\s*["']?bearer\s+)[A-Za-z0-9._~+/=-]{12,}/gi,
  // Pre-signed URLs (Copilot media links, S3) carry a time-limited credential in the query string.
  /(?<=[?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|sig|token)=)[^&\s"']{8,}/gi,
];
const CREDENTIAL_HINT_RE = /AKIA|ASIA|ABIA|ACCA|secret|api[_-]?key|x-api|clari|bearer|signature|credential|token|sig=/i;

export function findCredentials(text: string): Span[] {
  if (text.length < 16 || !CREDENTIAL_HINT_RE.test(text)) return [];
  const out: Span[] = [];
  for (const re of CREDENTIAL_RES) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) out.push({ start: m.index, end: m.index + m[0].length, kind: 'credential', value: m[0] });
  }
  return out;
}

const WORD_RE = /[\p{L}\p{N}_]+/gu;

/**
 * The people present in an export (names from users[]/owner fields, CRM ids), matched in free text as whole
 * token sequences, case- and whitespace-insensitively. Grows while a stream is read.
 */
export class Roster {
  private readonly byFirst = new Map<string, { tokens: string[]; canonical: string; replacement: string; reversed?: boolean }[]>();
  private readonly seen = new Set<string>();
  /** [value, replacement] in the order added: what another roster needs to catch up (see since()). */
  private readonly log: [string, string][] = [];
  /** Bumped on every addition, so caches of scanned strings know when to forget. */
  version = 0;

  get size(): number {
    return this.seen.size;
  }

  has(value: string): boolean {
    return this.seen.has(tokensOf(value).join(' '));
  }

  /** Adds a value with the text that replaces it. Values under 3 characters are ignored (too ambiguous). */
  add(value: string, replacement: string): void {
    const tokens = tokensOf(value);
    if (tokens.length === 0 || tokens.join('').length < 3) return;
    const key = tokens.join(' ');
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.log.push([value, replacement]);
    this.index(tokens, value, replacement);
    // CRMs and lists write people "Last, First" ("Silva, Ana"): the same person, the same pseudonym.
    const words = value.trim().split(/\s+/);
    if (words.length >= 2) {
      const rev = [...tokensOf(words[words.length - 1]!), ...tokensOf(words.slice(0, -1).join(' '))];
      if (rev.length && !this.seen.has(rev.join(' '))) this.index(rev, value, replacement, true);
    }
    this.version++;
  }

  private index(tokens: string[], canonical: string, replacement: string, reversed = false): void {
    let list = this.byFirst.get(tokens[0]!);
    if (!list) this.byFirst.set(tokens[0]!, (list = []));
    list.push({ tokens, canonical, replacement, reversed });
    // Longest first, so "Ana Maria Silva" wins over "Ana Maria"; a value as written before a reversed one.
    list.sort((a, b) => b.tokens.length - a.tokens.length || Number(a.reversed ?? false) - Number(b.reversed ?? false));
  }

  /** [value, replacement] pairs in the order they were added, to seed another roster (worker threads). */
  entries(): [string, string][] {
    return this.log.slice();
  }

  /** Number of values added so far: a mark for since(). */
  get added(): number {
    return this.log.length;
  }

  /** The pairs added after `mark` (a value of `added`), in order: another roster catches up with these. */
  since(mark: number): [string, string][] {
    return this.log.slice(mark);
  }

  find(text: string): (Span & { replacement: string })[] {
    if (this.byFirst.size === 0) return [];
    const words: { w: string; s: number; e: number }[] = [];
    WORD_RE.lastIndex = 0;
    for (let m = WORD_RE.exec(text); m; m = WORD_RE.exec(text)) words.push({ w: m[0].toLowerCase(), s: m.index, e: m.index + m[0].length });
    const out: (Span & { replacement: string })[] = [];
    for (let i = 0; i < words.length; i++) {
      const cands = this.byFirst.get(words[i]!.w);
      if (!cands) continue;
      for (const c of cands) {
        if (i + c.tokens.length > words.length) continue;
        let ok = true;
        for (let j = 1; j < c.tokens.length && ok; j++) {
          const prev = words[i + j - 1]!;
          const cur = words[i + j]!;
          // Tokens of one name are separated by a space or punctuation, not by other text.
          ok = cur.w === c.tokens[j] && cur.s - prev.e <= 3;
        }
        if (!ok) continue;
        const end = words[i + c.tokens.length - 1]!.e;
        out.push({ start: words[i]!.s, end, kind: 'roster-name', value: text.slice(words[i]!.s, end), normalized: c.canonical, replacement: c.replacement });
        i += c.tokens.length - 1;
        break;
      }
    }
    return out;
  }
}

export function tokensOf(value: string): string[] {
  return value.toLowerCase().match(WORD_RE) ?? [];
}

/** Keeps the earliest, then longest, of overlapping spans. */
export function resolveOverlaps<T extends Span>(spans: T[]): T[] {
  if (spans.length <= 1) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: T[] = [];
  let lastEnd = -1;
  for (const s of spans) {
    if (s.start >= lastEnd) {
      out.push(s);
      lastEnd = s.end;
    }
  }
  return out;
}

/** A short, non-reversible hint of a PII value for messages: `a***@e***.com`, `+1 *** ** 34`, `A** S****`. */
export function maskPii(value: string): string {
  const at = value.indexOf('@');
  if (at > 0) {
    const dom = value.slice(at + 1);
    const dot = dom.lastIndexOf('.');
    return `${value[0]}***@${dom[0] ?? ''}***${dot >= 0 ? dom.slice(dot) : ''}`;
  }
  if (countDigits(value) >= 7) return `${value.slice(0, 2)}***${value.slice(-2)}`;
  return value
    .split(/\s+/)
    .map((w) => (w.length ? `${w[0]}${'*'.repeat(Math.min(4, Math.max(1, w.length - 1)))}` : w))
    .join(' ');
}
