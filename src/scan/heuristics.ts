/**
 * The judgement shared by the context rules: is this value a credential, or a placeholder, reference,
 * expression or example? Clari does not publish its token format, so we decide on context (the rule),
 * then length, charset and Shannon entropy here, never on a guessed shape.
 */

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  const n = s.length;
  for (const c of counts.values()) {
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h;
}

const PLACEHOLDER_WORDS =
  /(your|example|sample|placeholder|changeme|change[-_]?me|replace|redacted|dummy|fake|mock|fixture|test|xxxx|\*\*\*|todo|tbd|insert|enter[-_]?your|secret[-_]?here|token[-_]?here|key[-_]?here|none|null|undefined|lorem)/i;

/** References to a secret held elsewhere: the value is a name, not the secret. */
const REFERENCE =
  /^(local:|env:|dotenv:|aws-sm:\/\/|vault:\/\/|gcp-sm:\/\/|azure-kv:\/\/|op:\/\/|arn:aws[a-z-]*:(secretsmanager|ssm|kms):|projects\/[^/]+\/secrets\/|https?:\/\/[^/]*vault\.azure\.net\/secrets\/|secretsmanager:|ssm:|sm:\/\/|file:|keychain:)/i;

/** Template and interpolation syntax from shells, CI systems, Helm, Jinja, JS, Python, Ruby, .NET. */
const TEMPLATE = /(\$\{|\$\(|\{\{|\}\}|^\$[A-Za-z_]|%\(|%[A-Z_]+%|#\{|<[^>]*>|\[\[|^@Microsoft\.KeyVault|^ENC\[)/;

/** Code that reads the value from somewhere else. */
const LOOKUP =
  /(process\.env|os\.environ|os\.getenv|getenv\(|System\.getenv|Environment\.GetEnvironmentVariable|ENV\[|ENV\.fetch|secrets\.|vars\.|env\.|config\.|settings\.|Deno\.env|import\.meta\.env|readSecret|get_secret|getSecret|keyring\.|userdata\.get)/;

/** True when some run of `len` characters steps by one code point each (abcde, 12345, 98765): a made-up example. */
export function hasSequentialRun(s: string, len = 5): boolean {
  const t = s.toLowerCase();
  let up = 1;
  let down = 1;
  for (let i = 1; i < t.length; i++) {
    const d = t.charCodeAt(i) - t.charCodeAt(i - 1);
    up = d === 1 ? up + 1 : 1;
    down = d === -1 ? down + 1 : 1;
    if (up >= len || down >= len) return true;
  }
  return false;
}

/** A value made of one or two characters repeated (xxxxxxxx, 00000000, abababab). */
function isRepetitive(s: string): boolean {
  return new Set(s).size <= 2 || /(.{1,4})\1{4,}/.test(s);
}

export interface CredentialCheck {
  /** Minimum length of the value. */
  minLength?: number;
  /** Minimum Shannon entropy (bits/char). */
  minEntropy?: number;
}

/** Why a value is not a credential, or null when it looks like one. Exposed for tests and `--explain` style debugging. */
export function whyNotCredential(value: string, check: CredentialCheck = {}): string | null {
  const minLength = check.minLength ?? 16;
  const minEntropy = check.minEntropy ?? 3.0;
  if (value.length < minLength) return 'too short';
  if (value.length > 1024) return 'too long';
  if (/\s/.test(value)) return 'contains whitespace';
  if (REFERENCE.test(value)) return 'a secret reference';
  if (value.includes('://')) return 'a URL';
  if (TEMPLATE.test(value)) return 'a template or interpolation';
  if (LOOKUP.test(value)) return 'a lookup';
  if (PLACEHOLDER_WORDS.test(value)) return 'a placeholder';
  if (isRepetitive(value)) return 'repetitive';
  if (hasSequentialRun(value)) return 'an example sequence';
  // A credential mixes character classes; English words joined by separators do not (and have low entropy).
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((r) => r.test(value)).length;
  if (classes < 2) return 'a single character class';
  if (!/[0-9]/.test(value) && value.length < 32) return 'no digits';
  if (/^[A-Za-z]+([_.-][A-Za-z]+)+$/.test(value)) return 'words';
  if (shannonEntropy(value) < minEntropy) return 'low entropy';
  return null;
}

export function isCredentialLike(value: string, check?: CredentialCheck): boolean {
  return whyNotCredential(value, check) === null;
}

/** Files where an unquoted right-hand side is an expression (a variable, a call), not a literal. */
const CODE_EXT = /\.(js|mjs|cjs|jsx|ts|tsx|mts|cts|py|rb|go|java|kt|kts|scala|cs|php|rs|swift|c|h|cc|cpp|hpp|m|r|jl|lua|dart|groovy|ex|exs|clj|vue|svelte)$/i;

export function isCodeFile(file: string): boolean {
  return CODE_EXT.test(file);
}

/** Notebooks store cells as JSON strings, so quotes inside code arrive escaped (\"). */
export function isNotebook(file: string): boolean {
  return /\.ipynb$/i.test(file);
}

/** Characters that end an unquoted value: whitespace, quotes and the punctuation that closes an expression. */
const ENDS_BARE_VALUE: Uint8Array = (() => {
  // Typed: zeroed memory instead of filling 65,536 array slots at every start-up.
  const t = new Uint8Array(65536);
  for (const c of ' \t\n\r\v\f"\'`,;)}]<>|&\\') t[c.charCodeAt(0)] = 1;
  for (const c of [0x85, 0xa0, 0x2028, 0x2029, 0xfeff, 0x3000]) t[c] = 1;
  return t;
})();

/**
 * Reads the value that starts at `pos` in `text`: a quoted string (', ", `, or their JSON-escaped forms
 * inside notebooks/JSON strings) or a bare token. Returns the value's offsets and whether it was quoted.
 */
export function readValue(text: string, pos: number): { start: number; end: number; quoted: boolean } | null {
  let i = pos;
  let quote = '';
  if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === "'")) {
    quote = `\\${text[i + 1]}`;
    i += 2;
  } else if (text[i] === '"' || text[i] === "'" || text[i] === '`') {
    quote = text[i];
    i += 1;
  }
  const start = i;
  if (quote) {
    // Stop at the closing quote (escaped form for notebooks), the end of the line, or a JSON escape.
    while (i < text.length && text[i] !== '\n') {
      if (quote.length === 2 ? text.startsWith(quote, i) : text[i] === quote) break;
      if (quote.length === 1 && text[i] === '\\') break;
      i++;
    }
    if (i >= text.length || text[i] === '\n') return null; // unterminated: not a literal we understand
    return { start, end: i, quoted: true };
  }
  // `#` only starts a comment after whitespace (dotenv, shell, YAML), which already ends the value.
  while (i < text.length && !ENDS_BARE_VALUE[text.charCodeAt(i)]) i++;
  if (i === start) return null;
  return { start, end: i, quoted: false };
}

/** Inline suppression marker. */
export const ALLOW_MARKER = 'clariguard:allow';

/** "clari" as the vendor, not clarity/clarify/clarification/clarinet/clarion. */
export const CLARI_WORD = /clari(?!ty|fy|fi|ti|on|ne|ss|ce)/i;

/** True when the vendor is named within `radius` characters of `pos`. */
export function clariNear(text: string, pos: number, radius = 400): boolean {
  return CLARI_WORD.test(text.slice(Math.max(0, pos - radius), pos + radius));
}

/** Characters of an identifier, key, flag or header name: letters, digits, `_`, `.`, `$`, `-`. */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 36 || c === 45;
}
function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36;
}
function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

/** A credential-like name the shared pass found: `[nameStart, nameEnd)`, and the value assigned, if any. */
export interface NameVisit {
  nameStart: number;
  nameEnd: number;
  value: { start: number; end: number; quoted: boolean } | null;
}

/**
 * Every word any assignment rule keys on (the union of clari-api-token's and generic-secret's name words).
 * Every match of a rule's own name regex ends in a word run that contains one of these, so one pass with
 * this regex visits every place either rule would visit (see forEachAssignmentOf).
 */
const SHARED_NAME_WORDS = /key|token|secret|passw(?:or)?d|pwd|credential|auth|passphrase/gi;

/**
 * The name/separator/value walk, shared by both assignment rules: `onVisit` is called at every keyword hit
 * (after jumping to the end of the hit's word run) with the value when the name is assigned one, else null.
 */
function visitNames(text: string, keywordRe: RegExp, onVisit: (nameStart: number, nameEnd: number, value: NameVisit['value']) => void): void {
  keywordRe.lastIndex = 0;
  let hit: RegExpExecArray | null;
  while ((hit = keywordRe.exec(text)) !== null) {
    let a = hit.index;
    while (a > 0 && isNameChar(text.charCodeAt(a - 1))) a--;
    while (a < hit.index && !isNameStart(text.charCodeAt(a))) a++;
    let b = hit.index + hit[0].length;
    while (b < text.length && isWordChar(text.charCodeAt(b))) b++;
    keywordRe.lastIndex = b;
    let nameStart = a;
    if (text[a - 1] === '-') nameStart = text[a - 2] === '-' ? a - 2 : a - 1;
    onVisit(nameStart, b, assignedValue(text, nameStart, b));
  }
}

/** The value assigned to the name `[nameStart, b)`, or null when the name is not assigned (most hits). */
function assignedValue(text: string, nameStart: number, b: number): NameVisit['value'] {
  // Most keyword hits are not assignments (calls, property reads): decide that before allocating anything.
  let i = b;
  // Closing quote of a quoted key ("key": / 'key' => / \"key\": in notebooks) and a closing ] of ENV['X'].
  if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === "'")) i += 2;
  else if (text[i] === '"' || text[i] === "'") i += 1;
  if (text[i] === ']') i += 1;
  let j = i;
  while (text[j] === ' ' || text[j] === '\t') j++;
  const c0 = text.charCodeAt(j);
  const c1 = text.charCodeAt(j + 1);
  let sepEnd: number;
  // := => <- ?= +=
  if ((c1 === 61 && (c0 === 58 || c0 === 63 || c0 === 43)) || (c0 === 61 && c1 === 62) || (c0 === 60 && c1 === 45)) sepEnd = j + 2;
  else if (c0 === 61 && c1 !== 61) sepEnd = j + 1;
  else if (text[j] === ':' && text[j + 1] !== ':') {
    // A typed declaration (TypeScript `name: string = '…'`, Kotlin/Swift `val name: String = "…"`).
    const typed = /^:\s*[A-Za-z_][\w.<>[\]|?]*\s*=\s*(?=\\?["'`])/.exec(text.slice(j, j + 80));
    sepEnd = typed ? j + typed[0].length : j + 1; // (only when a quoted literal follows)
  }
  else if (text[j] === ',' && /[("'[]\s*$/.test(text.slice(Math.max(0, nameStart - 3), nameStart))) sepEnd = j + 1; // ("apikey", "v")
  else if (j > i && text.charCodeAt(nameStart) === 45 && /^-{1,2}[A-Za-z]/.test(text.slice(nameStart, b))) sepEnd = j; // --clari-token VALUE
  else return null;
  let k = sepEnd;
  while (text[k] === ' ' || text[k] === '\t') k++;
  // YAML block scalars and `!!str` tags are rare for tokens; a `Bearer ` prefix is common in headers.
  if (/^bearer\s+/i.test(text.slice(k, k + 7))) k += text.slice(k).match(/^bearer\s+/i)![0].length;
  return readValue(text, k);
}

/**
 * Finds `name <sep> value` assignments: code, .env, YAML, JSON, TOML, shell (`export X=`, `--flag value`),
 * HTTP headers (`apikey: v`, `-H "apikey: v"`), notebooks (escaped quotes). `keywordRe` is a global,
 * case-insensitive regex of the words a name must contain (`token|secret|…`); the name around each hit is
 * found by scanning characters, which is far cheaper than a regex that starts at every identifier.
 * Calls `onValue` with the name (up to two leading dashes of a flag kept) and the value's offsets.
 */
export function forEachAssignment(
  text: string,
  keywordRe: RegExp,
  onValue: (name: string, nameStart: number, value: { start: number; end: number; quoted: boolean }) => void,
): void {
  visitNames(text, keywordRe, (nameStart, nameEnd, v) => {
    if (v) onValue(text.slice(nameStart, nameEnd), nameStart, v);
  });
}

/** One shared pass per chunk: the rules that run on a chunk all read the same visits. */
const visitCache = new WeakMap<object, { text: string; visits: NameVisit[] }>();

/** Every name visit of the shared pass over `chunk.text`, computed once per chunk. */
export function nameVisitsOf(chunk: { text: string }): NameVisit[] {
  const hit = visitCache.get(chunk);
  if (hit && hit.text === chunk.text) return hit.visits;
  const visits: NameVisit[] = [];
  visitNames(chunk.text, SHARED_NAME_WORDS, (nameStart, nameEnd, value) => visits.push({ nameStart, nameEnd, value }));
  visitCache.set(chunk, { text: chunk.text, visits });
  return visits;
}

/**
 * forEachAssignment(chunk.text, nameRe, onValue) with the same results, read off the shared pass instead of
 * a pass of its own. `nameRe` (non-global, case-insensitive) must only match words that contain one of the
 * shared words. A rule's own pass would visit a name when its regex matches between the end of its previous
 * visit and the end of the name; that is what is tested here, on the (short) name only.
 */
export function forEachAssignmentOf(
  chunk: { text: string },
  nameRe: RegExp,
  onValue: (name: string, nameStart: number, value: { start: number; end: number; quoted: boolean }) => void,
): void {
  const text = chunk.text;
  const visits = nameVisitsOf(chunk);
  let last = 0;
  for (let i = 0; i < visits.length; i++) {
    const v = visits[i];
    // Whether this rule visits v only matters when v has a value, or when the next visit is in the same
    // name (it then searches from v's end): most hits are neither, and need no test at all.
    if (!v.value && !(i + 1 < visits.length && visits[i + 1].nameStart < v.nameEnd)) continue;
    if (!nameRe.test(text.slice(Math.max(last, v.nameStart), v.nameEnd))) continue;
    last = v.nameEnd;
    if (v.value) onValue(text.slice(v.nameStart, v.nameEnd), v.nameStart, v.value);
  }
}

/**
 * git grep line patterns (Rule.linePatterns) for the assignment rules: every value forEachAssignmentOf()
 * hands to clari-api-token or generic-secret and that isCredentialLike() accepts (length >= 12 at the
 * lowest minLength, no whitespace, no `://`, a digit unless 32+ long) is matched by one of them. A value
 * follows its separator on the same line (visitNames/assignedValue skip only spaces and tabs), except after
 * `Bearer` and in a typed declaration split over lines, where it starts its line. The name is not required
 * (a keyword alternation at every letter costs git more than it saves); only the one separator that is
 * common before long values is excluded exactly: the `:` of `http://`, whose name holds no keyword.
 */
// Possessive quantifiers: the value is read greedily (all blanks, then `Bearer `, then one quote), as
// assignedValue() and readValue() do, so no backtracking into other splits is needed.
const LP_VALUE = String.raw`(?=\S{12})(?![^\s:]{0,9}://)(?:[^\s\d]*+\d|\S{32})`;
const LP_BEARER = String.raw`(?:[bB][eE][aA][rR][eE][rR]\s++)?+`;
const LP_QUOTE = String.raw`(?:\\?["'` + '`' + '])?+';
export const ASSIGNMENT_LINE_PATTERNS: readonly string[] = [
  // Each alternative starts with its literal, so PCRE only tries where one of =<,: occurs.
  String.raw`(?:=>?+|<-|,|:(?<!(?<![\w.$-])https:)(?<!(?<![\w.$-])http:))\s*+` + LP_BEARER + LP_QUOTE + LP_VALUE,
  String.raw`-[A-Za-z][\w.$-]*+(?:\\?["'])?+\]?+[ \t]++` + LP_BEARER + LP_QUOTE + LP_VALUE,
  String.raw`^\s*+` + LP_QUOTE + LP_VALUE,
];

/** Names that name something about a secret (its file, URL, id, length), not the secret itself. */
export const NOT_A_SECRET_NAME = /(_|-|\.|\b|[a-z])(url|uri|path|file|dir|name|id|ids|endpoint|host|env|var|ref|header|length|len|type|prefix|expires?|expiry|ttl|count|version|scope|enabled|rotated(at)?|created(at)?|hash|sha\d*|digest|fingerprint|checksum|md5|hint|masked)$/i;
