import { hashBytes, ValueTable } from './byte-table.js';
import { ByteWalker, learnKey, type NodeBytes } from './byte-rewriter.js';
import type { PathNode, RecordRedactor } from './engine.js';
import type { RecordRewriter, RecordRun } from './json-scanner.js';
import type { Rule } from './policy.js';
import { RosterScan, RUN_LEFT, RUN_PAUSED } from './wasm/roster-scan.js';

// The roster pre-pass for flat records, walking each record's members the way the byte rewriter does: a member
// key is recognised by comparing it (four bytes at a time) with the key the previous record had at the same
// position, values of roster fields go to the roster (each distinct value decoded once), every other value is
// skipped. Anything it does not read on its own terms (an escaped key, an object or array under a roster key,
// a record cut by the end of the bytes read so far, bytes that are not JSON) it leaves to the structural
// scanner and the engine's member walk, which give the same roster.
//
// The walk itself runs in WebAssembly (wasm/roster-scan.wat, the same reading step for step), which also
// remembers the values already dealt with, so only new ones come back here; the JavaScript walk below is the
// reference the tests hold it to, and reads what the module does not take (a buffer over 16 MB, more than 32
// roster keys). CLARIGUARD_REDACT_WASM=0 turns the module off.

const CUT = -1;
const LEAVE = -2;

export class RosterWalker extends ByteWalker implements RecordRewriter {
  private root: PathNode | null = null;
  private rootSection: string | null = null;
  private rootEpoch = -1;
  /** Whether every roster rule is a key of the record itself (else records are walked in full elsewhere). */
  private flat = false;
  private scan: RosterScan | null;
  /** The roster keys' rules, by the module's key index; null when the module does not take this section. */
  private keyRules: Rule[] | null = null;

  constructor(
    private readonly engine: RecordRedactor,
    options: { wasm?: boolean } = {},
  ) {
    super();
    this.scan = (options.wasm ?? process.env.CLARIGUARD_REDACT_WASM !== '0') ? new RosterScan() : null;
  }

  /** The buffer given before may be refilled with other bytes from now on. */
  fresh(): void {
    this.scan?.stale();
  }

  /** The section's root node, whether its roster fields are record keys, and the module's keys for it. */
  private enter(section: string | null): PathNode {
    const engine = this.engine;
    if (section !== this.rootSection || this.rootEpoch !== engine.cacheEpoch || this.root === null) {
      this.root = engine.rootFor(section, false);
      this.rootSection = section;
      this.rootEpoch = engine.cacheEpoch;
      this.flat = engine.rosterFlat(section);
      this.keyRules = null;
      if (this.flat && this.scan) {
        const keys = engine.flatRosterKeys(this.root);
        if (this.scan.setKeys(keys.map((k) => Buffer.from(k.key, 'utf8')))) this.keyRules = keys.map((k) => k.rule);
      }
    }
    return this.root;
  }

  /**
   * Takes records from b[start] on, one after another while each is followed by ',' and the next '{', as the
   * scanner's rewriteRun would take them one by one with at(), but without a trip back to JavaScript between
   * two records. Null when the module does not read this section (then at() does).
   */
  run(section: string | null, b: Buffer, start: number, end: number): RecordRun | null {
    this.enter(section);
    const scan = this.scan;
    const rules = this.keyRules;
    if (!this.flat || rules === null || b[start] !== 0x7b || !scan!.load(b)) return null;
    let taken = 0;
    let lines = 0;
    let p = start;
    for (;;) {
      const status = scan!.run(p, end);
      const failed = this.collectReports(scan!, rules, b);
      if (failed >= 0) {
        // As at() would: that record's values before the one that is not JSON are collected; the scanner reads it.
        return { taken: taken + scan!.reportRecord(failed), end: scan!.reportRecordStart(failed), lines: lines + scan!.reportRecordLines(failed), atRecord: true };
      }
      taken += scan!.taken;
      lines += scan!.runLines;
      if (status === RUN_PAUSED) {
        p = scan!.runEnd;
        continue;
      }
      return { taken, end: scan!.runEnd, lines, atRecord: status === RUN_LEFT };
    }
  }

  at(section: string | null, b: Buffer, start: number, end: number): number {
    const root = this.enter(section);
    if (!this.flat || b[start] !== 0x7b) return LEAVE;
    if (this.keyRules && this.scan!.load(b)) {
      const r = this.scan!.walk(start, end);
      this.lines = this.scan!.lines;
      return this.collectReports(this.scan!, this.keyRules, b) >= 0 || r < 0 ? CUT : r;
    }
    this.see(b);
    const nb = (root.bytes ??= { table: new ValueTable(), order: [], misses: 0 });
    this.lines = 0;
    let p = this.ws(b, start + 1, end);
    if (p >= end) return CUT;
    if (b[p] === 0x7d) return p + 1;
    for (let idx = 0; ; idx++) {
      if (b[p] !== 0x22) return CUT;
      const node = this.memberKey(b, p, end, root, nb, idx);
      if (node === null) return LEAVE;
      p = this.ws(b, this.keyEnd, end);
      if (b[p] !== 0x3a || p >= end) return CUT;
      p = this.ws(b, p + 1, end);
      if (p >= end) return CUT;
      const c = b[p]!;
      const rule = node.rule;
      if (rule !== null && rule.roster === true) {
        if (c === 0x7b || c === 0x5b) return LEAVE;
        if (c === 0x22) {
          const q = strEnd(b, p + 1, end);
          if (q < 0) return CUT;
          // An empty value or one with a raw '@' (an email) never enters the roster (see collectUnder).
          if (q > p + 1 && rawAt(b, p + 1, q) < 0) {
            const seen = ((node.bytes ??= { table: new ValueTable(), order: [], misses: 0 }).seen ??= new ValueTable());
            const h = hashBytes(b, p + 1, q);
            if (seen.findIn(this.bView, this.bOff + p + 1, this.bOff + q, h) < 0) {
              const v = stringContent(b, p + 1, q);
              if (v === null) return CUT;
              this.engine.collectRosterValue(rule, v);
              seen.insert(b, p + 1, q, h);
            }
          }
          p = q + 1;
        } else {
          p = literalEnd(b, p, end);
          if (p < 0) return CUT;
        }
      } else if (c === 0x22) {
        const q = strEnd(b, p + 1, end);
        if (q < 0) return CUT;
        p = q + 1;
      } else if (c === 0x7b || c === 0x5b) {
        p = this.skipContainer(b, p, end);
        if (p < 0) return CUT;
      } else {
        p = literalEnd(b, p, end);
        if (p < 0) return CUT;
      }
      p = this.ws(b, p, end);
      if (p >= end) return CUT;
      const d = b[p];
      if (d === 0x2c) p = this.ws(b, p + 1, end);
      else if (d === 0x7d) return p + 1;
      else return CUT;
    }
  }

  /**
   * The module's reports collected in order, as the JavaScript walk collects values on its way. Returns the
   * index of a report whose value is not a JSON string (its record is left to the scanner), else -1.
   */
  private collectReports(scan: RosterScan, rules: Rule[], b: Buffer): number {
    const n = scan.reported;
    for (let i = 0; i < n; i++) {
      const k = scan.reportKey(i);
      const s = scan.reportStart(i);
      const e = scan.reportEnd(i);
      // An email (a raw '@') never enters the roster; a value is decoded once, then remembered by the module.
      if (rawAt(b, s, e) < 0) {
        const v = stringContent(b, s, e);
        if (v === null) return i;
        this.engine.collectRosterValue(rules[k]!, v);
      }
      scan.remember(k, s, e);
    }
    return -1;
  }

  /** The node of the key at b[p] ('"'): compared with the key at this position in the last record first. */
  private memberKey(b: Buffer, p: number, end: number, n: PathNode, nb: NodeBytes, idx: number): PathNode | null {
    const known = this.knownKey(nb, idx, b, p, end);
    if (known !== null) return known;
    let q = p + 1;
    for (;;) {
      if (q >= end) return null;
      const c = b[q]!;
      if (c === 0x22) break;
      if (c === 0x5c || c < 0x20) return null;
      q++;
    }
    const node = learnKey(this.engine, n, nb, idx, b, p + 1, q);
    this.keyEnd = q + 1;
    return node;
  }

  /** The end of the object or array at b[p]; -1 when it does not end before `end`. */
  private skipContainer(b: Buffer, p: number, end: number): number {
    let depth = 0;
    let i = p;
    while (i < end) {
      const c = b[i]!;
      if (c === 0x22) {
        const q = strEnd(b, i + 1, end);
        if (q < 0) return -1;
        i = q + 1;
        continue;
      }
      if (c === 0x0a) this.lines++;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
}

/** The closing quote of a string whose content starts at `p`; -1: not before `end`, or a raw control byte. */
function strEnd(b: Buffer, p: number, end: number): number {
  while (p < end) {
    // Bytes that need no look (most of a string) in one table test each.
    while (p < end && STRING_BYTE[b[p]!] === 1) p++;
    if (p >= end) return -1;
    const c = b[p]!;
    if (c === 0x22) return p;
    if (c === 0x5c) p += 2;
    else if (c < 0x20) return -1;
    else p++;
  }
  return -1;
}

/** The content b[s, e) of a JSON string, escapes read; null when they are not JSON. */
function stringContent(b: Buffer, s: number, e: number): string | null {
  const v = b.toString('utf8', s, e);
  if (v.indexOf('\\') < 0) return v;
  try {
    return JSON.parse(`"${v}"`) as string;
  } catch {
    return null;
  }
}

/** The index of the first raw '@' in b[s, e) before any backslash; -1 when there is none (or an escape first). */
function rawAt(b: Buffer, s: number, e: number): number {
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === 0x40) return i;
    if (c === 0x5c) return -1;
  }
  return -1;
}

/** The end of a number, true, false or null at b[p] (only its bytes are checked: the redaction pass validates). */
function literalEnd(b: Buffer, p: number, end: number): number {
  let i = p;
  while (i < end && LITERAL_BYTE[b[i]!] === 1) i++;
  return i === p || i >= end ? -1 : i;
}

/** 1 for a byte that is string content as it is: not '"', '\\' or a control byte. */
const STRING_BYTE = new Uint8Array(256).fill(1, 0x20);
STRING_BYTE[0x22] = 0;
STRING_BYTE[0x5c] = 0;
/** 1 for the bytes a number or true/false/null is made of. */
const LITERAL_BYTE = new Uint8Array(256);
for (const c of '0123456789.-+Eabcdefghijklmnopqrstuvwxyz') LITERAL_BYTE[c.charCodeAt(0)] = 1;
