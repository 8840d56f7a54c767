import type { CountryCode } from 'libphonenumber-js';
import { phoneLib } from './phone-lib.js';
import { InputError } from '../errors.js';
import { knownSecretPatterns } from '../masking/registry.js';
import { addOtherCounts, otherCounts, otherCountsSince } from './count-delta.js';
import { findCredentials, findEmails, findPhoneNumbers, Roster, resolveOverlaps, type Span, withPlusForIdd00 } from './detectors.js';
import { ByteRewriter, type NodeBytes } from './byte-rewriter.js';
import type { Policy, Rule } from './policy.js';
import { createPseudonymizer, type Pseudonymizer } from './pseudonym.js';

/** Marker for "remove this field/element". */
export const DROP: unique symbol = Symbol('drop');
export type Redacted = unknown | typeof DROP;

export const CREDENTIAL_REPLACEMENT = '[credential-removed]';

// Cache sizes (entries, per thread): exports repeat their people on every row.
const RULE_CACHE_LIMIT = 100_000;
const TEXT_CACHE_LIMIT = 50_000;

const SYNTAX: unique symbol = Symbol('syntax');
/** A JSON escape sequence at the start of the text. */
const ESCAPED = /^\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/;
/** rwValue's answer for "the source text of this value stays as it is" (no slice, no comparison). */
export const SAME: unique symbol = Symbol('same');

/** Counts only, never values: safe to print, log and commit. */
export interface RedactionReport {
  keyId: string;
  preset: string | null;
  policy: string | null;
  format: string | null;
  source: string;
  rows: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  rules: Record<string, number>;
  detectors: Record<'email' | 'phone' | 'roster-name' | 'credential' | 'known-secret', number>;
  unknownFields: { kept: number; dropped: number };
  roster: { size: number; prepass: boolean };
}

export interface RuleState {
  n: number;
  cache: Map<string | number | boolean, unknown>;
}

export class PathNode {
  readonly children = new Map<string, PathNode>();
  item?: PathNode;
  /** Keys in the order the last object at this path had them: records repeat their layout. */
  readonly order: { key: string; node: PathNode; plain: boolean }[] = [];
  /** Count and output cache of `rule` (shared by every node of the same rule). */
  st?: RuleState;
  /** The byte rewriter's remembered values and member keys at this path. */
  bytes?: NodeBytes;
  constructor(
    /** Path from the document root, e.g. `users[].email` (no leading `[].` for top-level arrays). */
    readonly full: string,
    /** Path inside one record, e.g. `email`; '' for the record itself. */
    readonly rel: string,
    readonly rule: Rule | null,
    /** Some rule lives below this node, so it is a known container. */
    readonly hasRulesBelow: boolean,
  ) {}
}

interface CompiledPolicy {
  policy: Policy;
  exact: Map<string, Rule>;
  suffix: { suffix: string; rule: Rule }[];
  prefixes: Set<string>;
}

function normPath(p: string): string {
  return p.replace(/^\[\]\.?/, '').replace(/\s*\.\s*/g, '.');
}

function compile(policy: Policy): CompiledPolicy {
  const exact = new Map<string, Rule>();
  const suffix: { suffix: string; rule: Rule }[] = [];
  const prefixes = new Set<string>();
  for (const r of policy.rules) {
    if (r.path.startsWith('**.')) {
      suffix.push({ suffix: r.path.slice(3), rule: r });
      continue;
    }
    const p = normPath(r.path);
    exact.set(p, r);
    // Every ancestor container of a rule path is "known".
    for (let i = 0; i < p.length; i++) if (p[i] === '.' || p[i] === '[') prefixes.add(p.slice(0, i));
  }
  return { policy, exact, suffix, prefixes };
}

export interface RedactorOptions {
  sourceName?: string;
  presetName?: string | null;
  format?: string | null;
}

/**
 * Applies a policy to records. Field rules first; every string no rule covers (and every field marked
 * freeText) goes through the detectors; found spans get the same pseudonyms as the fields.
 */
export class RecordRedactor {
  readonly pz: Pseudonymizer;
  readonly keyBytes: Buffer;
  readonly roster = new Roster();
  readonly report: RedactionReport;
  private compiled!: CompiledPolicy;
  private roots = new Map<string, PathNode>();
  /** Free text already scanned (this roster version): the output and the counts the scan added. */
  private textCache = new Map<string, { out: string; d: Int32Array | null }>();
  private textCacheRosterVersion = 0;
  private readonly region: CountryCode;
  private readonly secrets = knownSecretPatterns();
  private readonly secretsAsStrings: string[];

  constructor(
    policy: Policy,
    key: Buffer,
    options: RedactorOptions = {},
  ) {
    this.pz = createPseudonymizer(key);
    this.keyBytes = key;
    this.setPolicy(policy, options.presetName ?? null);
    this.region = policy.detectors.phoneRegion.toUpperCase() as CountryCode;
    this.secretsAsStrings = this.secrets.patterns.map((b) => b.toString('utf8')).filter((s) => s.length >= 4);
    this.report = {
      keyId: this.pz.keyId,
      preset: options.presetName ?? null,
      policy: policy.name ?? null,
      format: options.format ?? null,
      source: options.sourceName ?? '<stdin>',
      rows: 0,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      rules: {},
      detectors: { email: 0, phone: 0, 'roster-name': 0, credential: 0, 'known-secret': 0 },
      unknownFields: { kept: 0, dropped: 0 },
      roster: { size: 0, prepass: false },
    };
  }

  get policy(): Policy {
    return this.compiled.policy;
  }

  setPolicy(policy: Policy, presetName: string | null): void {
    this.compiled = compile(policy);
    this.roots.clear();
    this.cacheEpoch++;
    this.flatKeys?.clear();
    if (this.report) {
      this.report.preset = presetName;
      this.report.policy = policy.name ?? null;
    }
  }

  /** The rules that feed the roster, by path, for a pre-pass over a file. */
  rosterRules(): Rule[] {
    return this.compiled.policy.rules.filter((r) => r.roster);
  }

  private resolve(full: string, rel: string): Rule | null {
    const c = this.compiled;
    const r = c.exact.get(full) ?? c.exact.get(rel);
    if (r) return r;
    for (const s of c.suffix) if (rel === s.suffix || rel.endsWith(`.${s.suffix}`) || full.endsWith(`.${s.suffix}`)) return s.rule;
    return null;
  }

  private node(full: string, rel: string): PathNode {
    const below = this.compiled.prefixes.has(full) || this.compiled.prefixes.has(rel) || this.compiled.suffix.length > 0;
    return new PathNode(full, rel, rel === '' && full === '' ? null : this.resolve(full, rel), below);
  }

  /** @internal The node of member `key` under `n` (the byte rewriter walks records with it). */
  child(n: PathNode, key: string): PathNode {
    let c = n.children.get(key);
    if (!c) {
      c = this.node(n.full ? `${n.full}.${key}` : key, n.rel ? `${n.rel}.${key}` : key);
      n.children.set(key, c);
    }
    return c;
  }

  private itemOf(n: PathNode): PathNode {
    return (n.item ??= this.node(`${n.full}[]`, `${n.rel}[]`));
  }

  /** @internal Root node for records of a section (array elements), or for a top-level value when `single`. */
  rootFor(section: string | null, single: boolean): PathNode {
    const k = `${single ? 'v' : 'r'}:${section ?? ''}`;
    let r = this.roots.get(k);
    if (!r) {
      if (section === null) r = new PathNode('', '', null, true);
      else if (single) {
        // A top-level non-array value: its own path is the section name; inside it, paths are relative.
        r = new PathNode(section, '', this.resolve(section, section), true);
      } else r = new PathNode(`${section}[]`, '', null, true);
      this.roots.set(k, r);
    }
    return r;
  }

  /** Whether a top-level field (a CSV column) is removed entirely by the policy. */
  columnDropped(name: string): boolean {
    const n = this.child(this.rootFor(null, false), name);
    if (n.rule) return n.rule.action === 'drop';
    return !n.hasRulesBelow && this.compiled.policy.unknownFields === 'drop';
  }

  private readonly ruleState = new Map<Rule, RuleState>();
  /** @internal */
  stateOf(rule: Rule): RuleState {
    let st = this.ruleState.get(rule);
    if (!st) this.ruleState.set(rule, (st = { n: 0, cache: new Map() }));
    return st;
  }

  /**
   * Forgets every rule's remembered outputs (not the counts). After a roster pre-pass, so values whose
   * pseudonym depends on the roster (`as: auto`) are decided with the whole roster, however the file was read.
   */
  clearRuleCaches(): void {
    for (const st of this.ruleState.values()) st.cache.clear();
    this.cacheEpoch++;
  }

  private bytePath?: ByteRewriter;
  /** @internal The byte path for flat records (see byte-rewriter.ts). */
  byteRewriter(): ByteRewriter {
    return (this.bytePath ??= new ByteRewriter(this));
  }
  /** @internal CLARIGUARD_REDACT_TEXT=1 turns the byte path off (tests compare it with the text path). */
  readonly bytePathEnabled = process.env.CLARIGUARD_REDACT_TEXT !== '1';

  /** @internal Bumped whenever remembered outputs must be forgotten (rule caches cleared, policy changed). */
  cacheEpoch = 0;

  private count(rule: Rule): void {
    this.stateOf(rule).n++;
  }

  /** Redacts one record; returns DROP when the whole record is to be removed. */
  redactRecord(record: unknown, section: string | null = null, where?: { line: number; offset: number }): Redacted {
    this.report.rows++;
    return this.walk(record, this.rootFor(section, false), where);
  }

  /**
   * The path nodes of CSV columns, for redactRow. Null when the header cannot be handled column by column
   * exactly like a row object (duplicate names, or integer-like names, which objects enumerate first).
   */
  csvColumns(header: string[]): PathNode[] | null {
    if (new Set(header).size !== header.length || header.some((h) => /^(?:0|[1-9]\d*)$/.test(h))) return null;
    const root = this.rootFor(null, false);
    return header.map((h) => this.child(root, h));
  }

  /** Redacts one CSV row in place (same result as redactRecord on the row object); DROP marks removed fields. */
  redactRow(columns: PathNode[], fields: unknown[], where?: { line: number; offset: number }): void {
    this.report.rows++;
    for (let i = 0; i < columns.length; i++) fields[i] = this.redactField(columns[i]!, fields[i], where);
  }

  /** @internal One field of a flat record (a CSV column's value) redacted as the member at `n`. */
  redactField(n: PathNode, v: unknown, where?: { line: number; offset: number }): Redacted {
    return n.rule ? this.applyRule(v, n.rule, n, where) : this.unknown(v, n, where);
  }

  /** Redacts a top-level non-array value such as `pagination` or Copilot's `call`. */
  redactTopValue(value: unknown, section: string, where?: { line: number; offset: number }): Redacted {
    const root = this.rootFor(section, true);
    if (value !== null && typeof value === 'object') this.report.rows++;
    if (root.rule) return this.applyRule(value, root.rule, root, where);
    if (value !== null && typeof value === 'object') return this.walk(value, root, where);
    return this.unknown(value, root, where);
  }

  // ---- Fast path: rewrite one record's JSON text without materialising it --------------------------------
  // Output is the input text with only the redacted values replaced, so formatting and number spelling are
  // preserved. Anything unusual (a rule on a container, a syntax error) falls back to the parsed path, which
  // gives the same result (tests pin both on the same golden files).
  private t = '';
  private i = 0;

  /** Redacts one record given as JSON text; returns its redacted JSON text, DROP, or null on a syntax error. */
  rewriteRecord(text: string, section: string | null, where?: { line: number; offset: number }): string | typeof DROP | null {
    return this.overText(text, () => {
      this.ws();
      const s = this.i;
      const r = this.rwValue(this.rootFor(section, false), where);
      const e = this.i;
      this.ws();
      if (this.i !== text.length) return null;
      this.report.rows++;
      return r === SAME ? (s === 0 && e === text.length ? text : text.slice(s, e)) : r;
    });
  }

  /**
   * @internal One value's JSON text redacted as the member at `n` (the byte rewriter's way in for a value it
   * has not seen): DROP, SAME (the text stays), the replacement's JSON text, or null when it is not JSON.
   */
  rewriteValueText(n: PathNode, text: string, where?: { line: number; offset: number }): string | typeof DROP | typeof SAME | null {
    return this.overText(text, () => {
      const r = this.rwValue(n, where);
      return this.i === text.length ? r : null;
    });
  }

  /** Runs `read` over `text` (this.t/this.i); null when the text is not JSON by its reading. */
  private overText<T>(text: string, read: () => T | null): T | null {
    this.t = text;
    this.i = 0;
    try {
      return read();
    } catch (e) {
      // SyntaxError: a bad escape met by JSON.parse of one value; the caller's parser names it and its place.
      if (e === SYNTAX || e instanceof SyntaxError) return null;
      throw e;
    } finally {
      this.t = '';
    }
  }

  private ws(): void {
    const t = this.t;
    let i = this.i;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
    this.i = i;
  }

  private strEnd(from: number): number {
    const t = this.t;
    let p = from;
    for (;;) {
      const q = t.indexOf('"', p);
      if (q < 0) throw SYNTAX;
      let bs = 0;
      for (let k = q - 1; k >= from && t.charCodeAt(k) === 92; k--) bs++;
      if ((bs & 1) === 0) {
        // A raw control character or a bad escape is not JSON (the parser then names it and its place).
        for (let k = from; k < q; k++) if (t.charCodeAt(k) < 32) throw SYNTAX;
        for (let k = t.indexOf('\\', from); k >= 0 && k < q; k = t.indexOf('\\', k + 2)) {
          if (!ESCAPED.test(t.slice(k, k + 6))) throw SYNTAX;
        }
        return q;
      }
      p = q + 1;
    }
  }

  /** Skips one value (any kind); returns its start. */
  private skipValue(): number {
    const t = this.t;
    const s = this.i;
    const c = t.charCodeAt(s);
    if (c === 34) {
      this.i = this.strEnd(s + 1) + 1;
      return s;
    }
    if (c === 123 || c === 91) {
      let depth = 0;
      let i = s;
      for (;;) {
        const d = t.charCodeAt(i);
        if (Number.isNaN(d)) throw SYNTAX;
        if (d === 34) i = this.strEnd(i + 1) + 1;
        else {
          if (d === 123 || d === 91) depth++;
          else if (d === 125 || d === 93) depth--;
          i++;
          if (depth === 0) break;
        }
      }
      this.i = i;
      return s;
    }
    this.literal();
    return s;
  }

  private literal(): string {
    const s = this.i;
    return this.t.slice(s, this.literalEnd());
  }

  /**
   * Reads a number, true, false or null by the JSON grammar and returns its end. What may follow is checked
   * by the caller (',', '}', ']' or whitespace), so "01" or "truex" still fail as syntax errors.
   */
  private literalEnd(): number {
    const t = this.t;
    let i = this.i;
    let c = t.charCodeAt(i);
    if (c === 116 || c === 102 || c === 110) {
      const word = c === 116 ? 'true' : c === 102 ? 'false' : 'null';
      if (!t.startsWith(word, i)) throw SYNTAX;
      return (this.i = i + word.length);
    }
    if (c === 45) c = t.charCodeAt(++i);
    if (c === 48) c = t.charCodeAt(++i);
    else if (c >= 49 && c <= 57) {
      do c = t.charCodeAt(++i);
      while (c >= 48 && c <= 57);
    } else throw SYNTAX;
    if (c === 46) {
      c = t.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) throw SYNTAX;
      do c = t.charCodeAt(++i);
      while (c >= 48 && c <= 57);
    }
    if (c === 101 || c === 69) {
      c = t.charCodeAt(++i);
      if (c === 43 || c === 45) c = t.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) throw SYNTAX;
      do c = t.charCodeAt(++i);
      while (c >= 48 && c <= 57);
    }
    // A digit right after a leading zero ("01") is not JSON.
    if (c >= 48 && c <= 57) throw SYNTAX;
    return (this.i = i);
  }

  /**
   * Reads the key at this.i (a '"') and returns its node. Records repeat their layout, so the key the last
   * object at this path had at the same position is compared in place first: no string is built.
   */
  private memberKey(n: PathNode, idx: number): PathNode {
    const t = this.t;
    const ks = this.i;
    const o = n.order[idx];
    if (o !== undefined && o.plain && t.charCodeAt(ks + 1 + o.key.length) === 34 && t.startsWith(o.key, ks + 1)) {
      this.i = ks + o.key.length + 2;
      return o.node;
    }
    const ke = this.strEnd(ks + 1);
    let key = t.slice(ks + 1, ke);
    const plain = key.indexOf('\\') < 0;
    if (!plain) key = JSON.parse(t.slice(ks, ke + 1)) as string;
    const node = this.child(n, key);
    n.order[idx] = { key, node, plain };
    this.i = ke + 1;
    return node;
  }

  private countAt(n: PathNode, rule: Rule): void {
    (n.rule === rule ? (n.st ??= this.stateOf(rule)) : this.stateOf(rule)).n++;
  }

  private rwValue(n: PathNode, where?: { line: number; offset: number }): string | typeof DROP | typeof SAME {
    const t = this.t;
    const c = t.charCodeAt(this.i);
    const rule = n.rule;
    if (rule && rule.action === 'drop') {
      this.skipValue();
      this.countAt(n, rule);
      return DROP;
    }
    if (c === 123 || c === 91) {
      if ((rule && rule.action !== 'keep') || (!rule && !n.hasRulesBelow)) {
        // A rule on a whole container, or an unknown subtree: the parsed path handles these (rare) cases.
        const s = this.skipValue();
        const v = JSON.parse(t.slice(s, this.i)) as unknown;
        const r = rule ? this.applyRule(v, rule, n, where) : this.unknown(v, n, where);
        return r === DROP ? DROP : JSON.stringify(r);
      }
      const node = rule ? new PathNode(n.full, n.rel, null, true) : n;
      return this.rwContainer(node, c === 123, where);
    }
    if (c === 34) {
      const s = this.i;
      const e = this.strEnd(s + 1);
      this.i = e + 1;
      if (rule && rule.action === 'keep' && !rule.freeText) {
        this.countAt(n, rule);
        return SAME;
      }
      let val = t.slice(s + 1, e);
      if (val.indexOf('\\') >= 0) val = JSON.parse(t.slice(s, e + 1)) as string;
      const r = rule ? this.applyRule(val, rule, n, where) : this.unknown(val, n, where);
      return r === DROP ? DROP : r === val ? SAME : JSON.stringify(r);
    }
    const s = this.i;
    this.literalEnd();
    if (rule && rule.action === 'keep') {
      this.countAt(n, rule);
      return SAME;
    }
    const v = JSON.parse(t.slice(s, this.i)) as unknown;
    const r = rule ? this.applyRule(v, rule, n, where) : this.unknown(v, n, where);
    return r === DROP ? DROP : r === v ? SAME : JSON.stringify(r);
  }

  /**
   * An object (`isObject`) or an array, from its opening bracket. The output is the source text with
   * replacements: a run of unchanged source (usually most of a record) is kept as one pending range
   * [segS, segE) and copied with one slice, instead of a concatenation per member. SAME: nothing changed.
   */
  private rwContainer(n: PathNode, isObject: boolean, where?: { line: number; offset: number }): string | typeof SAME {
    const t = this.t;
    const close = isObject ? 125 : 93;
    const open = this.i;
    this.i++;
    let elStart = this.i;
    this.ws();
    if (t.charCodeAt(this.i) === close) {
      this.i++;
      return SAME;
    }
    const item = isObject ? null : this.itemOf(n);
    let out = '';
    let segS = open;
    let segE = elStart;
    let first = true;
    let idx = 0;
    let commaPos = -1;
    for (;;) {
      let node: PathNode;
      if (item) node = item;
      else {
        if (t.charCodeAt(this.i) !== 34) throw SYNTAX;
        node = this.memberKey(n, idx++);
        this.ws();
        if (t.charCodeAt(this.i) !== 58) throw SYNTAX;
        this.i++;
        this.ws();
      }
      const vs = this.i;
      const r = this.rwValue(node, where);
      const after = this.i;
      if (r !== DROP) {
        // Same text as ", element" in a plain concatenation: the comma, the key part (objects), the value.
        if (!first) {
          if (commaPos === segE) segE++;
          else {
            out += `${t.slice(segS, segE)},`;
            segS = segE = elStart;
          }
        }
        if (elStart === segE) segE = vs;
        else {
          out += t.slice(segS, segE);
          segS = elStart;
          segE = vs;
        }
        if (r === SAME) segE = after;
        else {
          out += t.slice(segS, segE) + r;
          segS = segE = after;
        }
        first = false;
      }
      this.ws();
      const c = t.charCodeAt(this.i);
      if (c === 44) {
        commaPos = this.i;
        this.i++;
        elStart = this.i;
        this.ws();
      } else if (c === close) {
        this.i++;
        if (after === segE) return segS === open && out === '' ? SAME : out + t.slice(segS, this.i);
        return out + t.slice(segS, segE) + t.slice(after, this.i);
      } else throw SYNTAX;
    }
  }

  /** Roster pre-pass: feeds the values of roster rules to the roster, touching nothing else. */
  collectRoster(v: unknown, section: string | null, single = false): void {
    const root = this.rootFor(section, single);
    if (root.rule) {
      if (root.rule.roster) this.collectUnder(v, root.rule);
      return;
    }
    this.collect(v, root);
  }

  /**
   * collectRoster over a record's JSON text, without parsing it into objects: only the values of roster rules
   * are materialised (the pre-pass otherwise spends most of its time in JSON.parse). Mirrors collect() step
   * for step. Returns false on anything it does not read as JSON; the caller then parses the record.
   */
  collectRosterText(text: string, section: string | null): boolean {
    this.t = text;
    this.i = 0;
    try {
      const root = this.rootFor(section, false);
      this.ws();
      if (!root.rule && text.charCodeAt(this.i) === 123 && this.collectFlat(text, root)) return true;
      if (root.rule) {
        if (root.rule.roster) this.clUnder(root.rule);
        else this.skipValue();
      } else this.clCollect(root);
      this.ws();
      return this.i === text.length;
    } catch (e) {
      if (e === SYNTAX) return false;
      throw e;
    } finally {
      this.t = '';
    }
  }

  /**
   * The pre-pass for a record without nested objects or arrays (most exports): every key is a member of the
   * record itself, so the roster fields are found with indexOf instead of walking every member. A '"key"'
   * followed by ':' is always a key in JSON (quotes inside strings are escaped). Records with \u escapes
   * (a key could be spelled with them) or any '{' or '[' after the first byte take the member walk.
   * Syntax is not checked here: the redaction pass reads every byte and reports errors.
   */
  private collectFlat(text: string, root: PathNode): boolean {
    const open = this.i;
    if (text.indexOf('{', open + 1) >= 0 || text.indexOf('[') >= 0 || text.indexOf('\\u') >= 0) return false;
    for (const { needle, rule } of this.flatRosterKeys(root)) {
      for (let p = text.indexOf(needle); p >= 0; p = text.indexOf(needle, p + needle.length)) {
        this.i = p + needle.length;
        this.ws();
        if (text.charCodeAt(this.i) !== 58) continue;
        this.i++;
        this.ws();
        const s = this.i;
        if (text.charCodeAt(s) !== 34) continue; // a number, true/false/null: nothing for the roster
        const e = this.strEnd(s + 1);
        const raw = text.slice(s, e + 1);
        this.collectUnder(raw.indexOf('\\') < 0 ? raw.slice(1, -1) : (JSON.parse(raw) as string), rule);
      }
    }
    return true;
  }

  /**
   * Whether every rule that feeds the roster is a key of a section's records themselves (not a dotted path,
   * an array path or a `**.` rule) and no rule covers the whole record: then the roster walker reads them.
   */
  rosterFlat(section: string | null): boolean {
    return !this.rootFor(section, false).rule && this.rosterRules().every((r) => /^[^.[\]*]+$/.test(r.path));
  }

  /** A roster field's value found by the roster walker. */
  collectRosterValue(rule: Rule, value: string): void {
    this.collectUnder(value, rule);
  }

  private readonly flatKeys = new Map<PathNode, { key: string; needle: string; rule: Rule }[]>();
  /**
   * @internal The keys of a record whose rules feed the roster (with rosterFlat, every member key whose node
   * has a roster rule is one of these), and how they are spelled in JSON text.
   */
  flatRosterKeys(root: PathNode): { key: string; needle: string; rule: Rule }[] {
    let keys = this.flatKeys.get(root);
    if (!keys) {
      const names = new Set<string>();
      for (const r of this.compiled.policy.rules) {
        const last = r.path.split('.').pop()!;
        // A rule on array items never applies in a record without arrays.
        if (r.roster && last && !last.endsWith('[]') && last !== '**') names.add(last);
      }
      keys = [];
      for (const k of names) {
        const c = this.child(root, k);
        if (c.rule?.roster) keys.push({ key: k, needle: JSON.stringify(k), rule: c.rule });
      }
      this.flatKeys.set(root, keys);
    }
    return keys;
  }

  private clUnder(rule: Rule): void {
    const s = this.skipValue();
    const t = this.t;
    const c = t.charCodeAt(s);
    if (c === 34) {
      const bs = t.indexOf('\\', s);
      this.collectUnder(bs < 0 || bs >= this.i ? t.slice(s + 1, this.i - 1) : (JSON.parse(t.slice(s, this.i)) as string), rule);
    } else if (c === 91) this.collectUnder(JSON.parse(t.slice(s, this.i)) as unknown, rule);
  }

  private clCollect(n: PathNode): void {
    const t = this.t;
    const c = t.charCodeAt(this.i);
    if (c === 123) {
      this.i++;
      this.ws();
      if (t.charCodeAt(this.i) === 125) {
        this.i++;
        return;
      }
      let idx = 0;
      for (;;) {
        if (t.charCodeAt(this.i) !== 34) throw SYNTAX;
        const ch = this.memberKey(n, idx++);
        this.ws();
        if (t.charCodeAt(this.i) !== 58) throw SYNTAX;
        this.i++;
        this.ws();
        if (ch.rule) {
          if (ch.rule.roster) this.clUnder(ch.rule);
          else if (ch.rule.action === 'keep' && ch.hasRulesBelow) this.clCollect(ch);
          else this.skipValue();
        } else if (ch.hasRulesBelow) this.clCollect(ch);
        else this.skipValue();
        this.ws();
        const d = t.charCodeAt(this.i);
        this.i++;
        if (d === 44) this.ws();
        else if (d === 125) return;
        else throw SYNTAX;
      }
    }
    if (c === 91) {
      const it = this.itemOf(n);
      this.i++;
      this.ws();
      if (t.charCodeAt(this.i) === 93) {
        this.i++;
        return;
      }
      for (;;) {
        if (it.rule) {
          if (it.rule.roster) this.clUnder(it.rule);
          else this.skipValue();
        } else if (it.hasRulesBelow) this.clCollect(it);
        else this.skipValue();
        this.ws();
        const d = t.charCodeAt(this.i);
        this.i++;
        if (d === 44) this.ws();
        else if (d === 93) return;
        else throw SYNTAX;
      }
    }
    this.skipValue();
  }

  private collect(v: unknown, n: PathNode): void {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      const it = this.itemOf(n);
      if (it.rule) {
        if (it.rule.roster) for (const e of v) this.collectUnder(e, it.rule);
      } else if (it.hasRulesBelow) for (const e of v) this.collect(e, it);
      return;
    }
    for (const k in v as Record<string, unknown>) {
      const c = this.child(n, k);
      const x = (v as Record<string, unknown>)[k];
      if (c.rule) {
        if (c.rule.roster) this.collectUnder(x, c.rule);
        else if (c.rule.action === 'keep' && c.hasRulesBelow) this.collect(x, c);
      } else if (c.hasRulesBelow) this.collect(x, c);
    }
  }

  private collectUnder(v: unknown, rule: Rule): void {
    if (typeof v === 'string') {
      // Emails never enter the roster (the email detector finds them): no pseudonym to compute.
      if (!v || v.includes('@')) return;
      const st = this.stateOf(rule);
      if (!st.cache.has(v)) st.cache.set(v, this.transformScalar(v, rule));
    } else if (Array.isArray(v)) for (const e of v) this.collectUnder(e, rule);
  }

  private walk(v: unknown, n: PathNode, where?: { line: number; offset: number }): Redacted {
    if (v === null || typeof v !== 'object') {
      return n.rule ? this.applyRule(v, n.rule, n, where) : this.unknown(v, n, where);
    }
    if (n.rule && n.rule.action !== 'keep') return this.applyRule(v, n.rule, n, where);
    if (!n.rule && !n.hasRulesBelow) return this.unknown(v, n, where);
    if (Array.isArray(v)) {
      const it = this.itemOf(n);
      const out: unknown[] = [];
      for (const e of v) {
        const r = this.walk(e, it, where);
        if (r !== DROP) out.push(r);
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const k in v as Record<string, unknown>) {
      const r = this.walk((v as Record<string, unknown>)[k], this.child(n, k), where);
      if (r !== DROP) out[k] = r;
    }
    return out;
  }

  private unknown(v: unknown, n: PathNode, where?: { line: number; offset: number }): Redacted {
    switch (this.compiled.policy.unknownFields) {
      case 'drop':
        this.report.unknownFields.dropped++;
        return DROP;
      case 'fail':
        throw new InputError(this.report.source, `field ${n.full || '(record)'} is not covered by the policy (unknownFields: fail)`, where ?? {});
      default:
        this.report.unknownFields.kept++;
        return this.scanDeep(v);
    }
  }

  /** Free-text detection over every string in a value. */
  private scanDeep(v: unknown): unknown {
    if (typeof v === 'string') return this.scanText(v);
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((e) => this.scanDeep(e));
    const out: Record<string, unknown> = {};
    for (const k in v as Record<string, unknown>) out[k] = this.scanDeep((v as Record<string, unknown>)[k]);
    return out;
  }

  private applyRule(v: unknown, rule: Rule, n: PathNode, where?: { line: number; offset: number }): Redacted {
    if (rule.action === 'drop') {
      this.countAt(n, rule);
      return DROP;
    }
    if (rule.action === 'keep') {
      if (v !== null && typeof v === 'object') return this.walk(v, new PathNode(n.full, n.rel, null, true), where);
      this.countAt(n, rule);
      return rule.freeText && typeof v === 'string' ? this.scanText(v) : v;
    }
    if (Array.isArray(v)) return v.map((e) => this.applyRule(e, rule, n, where)).filter((e) => e !== DROP);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k in v as Record<string, unknown>) {
        const r = this.applyRule((v as Record<string, unknown>)[k], rule, n, where);
        if (r !== DROP) out[k] = r;
      }
      return out;
    }
    if (v === null || v === undefined || v === '') return v;
    // Exports repeat the same people on every row: remember each rule's output per input value.
    const st = n.rule === rule ? (n.st ??= this.stateOf(rule)) : this.stateOf(rule);
    st.n++;
    let out = st.cache.get(v as string);
    if (out === undefined) {
      out = this.transformScalar(v as string | number | boolean, rule);
      if (st.cache.size >= RULE_CACHE_LIMIT) st.cache.clear();
      st.cache.set(v as string, out);
    }
    return out;
  }

  /** The pseudonym/replacement for one scalar under a rule; also feeds the roster. */
  transformScalar(v: string | number | boolean, rule: Rule): unknown {
    switch (rule.action) {
      case 'pseudonymize': {
        const s = String(v);
        const out = this.pseudonymize(s, rule.as, rule.prefix);
        if (rule.roster) this.addToRoster(s, out);
        return out;
      }
      case 'pseudonymize-email': {
        const s = String(v);
        const out = this.pz.email(s, rule.keepDomain);
        if (rule.roster) this.addToRoster(s, out);
        return out;
      }
      case 'mask':
        return rule.with;
      case 'round':
        return roundValue(v, rule.to);
      case 'bucket':
        return bucketValue(v, rule.buckets);
      default:
        return v;
    }
  }

  private pseudonymize(s: string, as: 'name' | 'id' | 'text' | 'phone' | 'auto', prefix?: string): string {
    switch (as) {
      case 'name':
        return this.pz.name(s, prefix);
      case 'text':
        return `${prefix ?? 'Text'}-${this.pz.digest('text', s)}-${this.pz.keyId}`;
      case 'phone':
        return this.phonePseudonym(s);
      case 'auto': {
        const t = s.trim();
        if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(t)) return this.pz.email(t);
        if (this.roster.has(t) || /^\p{Lu}[\p{L}'’.-]*(?:\s+\p{Lu}[\p{L}'’.-]*)+$/u.test(t)) return this.pz.name(t);
        return this.pz.id(t, prefix);
      }
      default:
        return this.pz.id(s, prefix);
    }
  }

  private phonePseudonym(s: string): string {
    // Same E.164 as free-text detection gives ("0044 …" too), so a phone field and a mention join.
    const p = phoneLib().parsePhoneNumberFromString(withPlusForIdd00(s).trim(), this.region);
    return this.pz.id(p ? (p.number as string) : s.replace(/[^\d+]/g, ''), 'Phone');
  }

  /** Roster values are also matched in free text; each maps to the exact pseudonym its field got. */
  addToRoster(value: string, replacement: string): void {
    if (value.includes('@')) return; // emails are found by the email detector already
    this.roster.add(value, replacement);
  }

  /** Runs the detectors over a string and replaces what they find. */
  scanText(s: string): string {
    if (s.length < 3) return s;
    const cacheable = s.length <= 96;
    if (cacheable) {
      if (this.textCacheRosterVersion !== this.roster.version) {
        this.textCache.clear();
        this.textCacheRosterVersion = this.roster.version;
      }
      const hit = this.textCache.get(s);
      if (hit !== undefined) {
        // The counts its first scan added, again: the same finds in the same text.
        if (hit.d !== null) addOtherCounts(this.report, hit.d, 1);
        return hit.out;
      }
    }
    const before = cacheable ? otherCounts(this.report) : null;
    const out = this.scanUncached(s);
    if (cacheable) {
      if (this.textCache.size >= TEXT_CACHE_LIMIT) this.textCache.clear();
      this.textCache.set(s, { out, d: otherCountsSince(this.report, before!) });
    }
    return out;
  }

  private scanUncached(s: string): string {
    const d = this.compiled.policy.detectors;
    const spans: (Span & { replacement?: string })[] = [];
    if (d.emails) for (const e of findEmails(s)) if (!isPseudonymEmail(e.normalized ?? e.value, this.pz.keyId)) spans.push(e);
    if (d.phones) spans.push(...findPhoneNumbers(s, this.region));
    if (d.credentials) {
      spans.push(...findCredentials(s));
      for (const sec of this.secretsAsStrings) {
        let i = s.indexOf(sec);
        while (i >= 0) {
          spans.push({ start: i, end: i + sec.length, kind: 'credential', value: sec, replacement: CREDENTIAL_REPLACEMENT });
          i = s.indexOf(sec, i + sec.length);
        }
      }
    }
    if (d.roster && this.roster.size > 0) spans.push(...this.roster.find(s));
    if (spans.length === 0) return s;
    const kept = resolveOverlaps(spans);
    let out = '';
    let last = 0;
    for (const sp of kept) {
      out += s.slice(last, sp.start);
      switch (sp.kind) {
        case 'email':
          // A URL-encoded address gets the pseudonym of the address it stands for (joins with the field).
          out += this.emailReplacement(sp.normalized ?? sp.value);
          this.report.detectors.email++;
          break;
        case 'phone':
          out += this.pz.id(sp.normalized ?? sp.value, 'Phone');
          this.report.detectors.phone++;
          break;
        case 'roster-name':
          out += sp.replacement!;
          this.report.detectors['roster-name']++;
          break;
        case 'credential':
          out += CREDENTIAL_REPLACEMENT;
          this.report.detectors.credential++;
          break;
      }
      last = sp.end;
    }
    return out + s.slice(last);
  }

  private emailRule?: Rule | null;
  /** Emails in free text get the same pseudonym as email fields (including keepDomain if the policy says so). */
  private emailReplacement(email: string): string {
    if (this.emailRule === undefined) this.emailRule = this.compiled.policy.rules.find((r) => r.action === 'pseudonymize-email') ?? null;
    const keepDomain = this.emailRule?.action === 'pseudonymize-email' ? this.emailRule.keepDomain : false;
    return this.pz.email(email, keepDomain);
  }

  /** Adds another engine's counts (worker threads) to this one's. */
  mergeCounts(r: RedactionReport): void {
    // This report's own rule counts are only filled in by finishReport(); the other thread's are kept apart.
    addReportCounts(this.report, r, this.extraRules);
  }
  private extraRules: Record<string, number> = {};

  private readonly countSources: (() => void)[] = [];
  /** @internal A byte path that counts on its own (record-rewrite.ts) adds its counts to the report here. */
  addCountSource(fold: () => void): void {
    this.countSources.push(fold);
  }

  finishReport(): RedactionReport {
    for (const fold of this.countSources) fold();
    for (const [k, n] of Object.entries(this.extraRules)) this.report.rules[k] = n;
    this.report.roster.size = this.roster.size;
    for (const [rule, st] of this.ruleState) if (st.n) this.report.rules[`${rule.path}:${rule.action}`] = st.n + (this.extraRules[`${rule.path}:${rule.action}`] ?? 0);
    return this.report;
  }
}

/** Adds the counts of `from` (another thread's part of the same input) to `into`; rule counts to `rulesInto`. */
export function addReportCounts(into: RedactionReport, from: RedactionReport, rulesInto: Record<string, number> = into.rules): void {
  into.rows += from.rows;
  for (const [k, n] of Object.entries(from.rules)) rulesInto[k] = (rulesInto[k] ?? 0) + n;
  for (const k of Object.keys(from.detectors) as (keyof RedactionReport['detectors'])[]) into.detectors[k] += from.detectors[k];
  into.unknownFields.kept += from.unknownFields.kept;
  into.unknownFields.dropped += from.unknownFields.dropped;
}

function isPseudonymEmail(e: string, keyId: string): boolean {
  const at = e.indexOf('@');
  return at === 21 + keyId.length && e.slice(21, at) === keyId;
}

const AMOUNT_RE = /^(\s*[^\d\s.,-]*\s*)(-?)([\d,]*\.?\d+)(\s*\D*)$/;

/** Rounds numbers and amount strings (`$3,000,190.00`) to a multiple of `to`; other values pass unchanged. */
export function roundValue(v: unknown, to: number): unknown {
  if (typeof v === 'number') return Math.round(v / to) * to;
  if (typeof v !== 'string') return v;
  const m = AMOUNT_RE.exec(v);
  if (!m) return v;
  const n = Number(m[3]!.replace(/,/g, ''));
  if (!Number.isFinite(n)) return v;
  const r = Math.round(n / to) * to;
  const body = m[3]!.includes(',') ? r.toLocaleString('en-US') : String(r);
  return `${m[1]}${m[2]}${body}${m[4]}`;
}

/** Replaces an amount with its bucket label: `<0`, `0-10000`, `>=1000000`. */
export function bucketValue(v: unknown, bounds: number[]): unknown {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') {
    const m = AMOUNT_RE.exec(v);
    if (!m) return v;
    n = Number(`${m[2]}${m[3]!.replace(/,/g, '')}`);
    if (!Number.isFinite(n)) return v;
  } else return v;
  if (n < bounds[0]!) return `<${bounds[0]}`;
  for (let i = 1; i < bounds.length; i++) if (n < bounds[i]!) return `${bounds[i - 1]}-${bounds[i]}`;
  return `>=${bounds[bounds.length - 1]}`;
}
