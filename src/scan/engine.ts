import { PatternSet } from '../masking/masker.js';
import { maskKnownSecrets } from '../masking/registry.js';
import { fingerprintOf } from './fingerprint.js';
import { ALLOW_MARKER } from './heuristics.js';
import type { Finding, Rule, SkippedCounts } from './types.js';

export interface ChunkMeta {
  commit: string | null;
  author: string | null;
  date: string | null;
}

/** Snippets are cut to this many characters around the first secret on the line. */
const SNIPPET_MAX = 160;
const MASK = '****';

/** First 4 characters (fewer for short values, so at most a third is shown), then a fixed-width mask. */
export function maskSecret(secret: string): string {
  const show = Math.min(4, Math.floor(secret.length / 3));
  return `${secret.slice(0, show)}${MASK}`;
}

interface Candidate {
  rule: Rule;
  priority: number;
  start: number;
  end: number;
}

/**
 * Runs the rules over chunks of text. Pre-filter first: a rule only runs when one of its keywords occurs in
 * the chunk (case-insensitive), and the keyword test runs on a one-byte (latin1) decoding of the bytes,
 * which is much cheaper than UTF-8 decoding a file no rule cares about.
 */
export class Detector {
  private readonly rules: readonly Rule[];
  /** Per rule: its keywords as one case-insensitive regex (null: no keywords, the rule always runs). */
  private readonly keywordRes: (RegExp | null)[];
  /** Per rule: its keywords as latin1 strings (UTF-8 bytes read one byte per character). */
  private readonly keywordForms: string[][];
  /** Combined keyword regexes, by the set of rules not yet known to be needed (see activeRules). */
  private readonly combined = new Map<number | string, RegExp>();
  /**
   * What each finding's fingerprint is made of (never on the finding itself: it holds the secret). The key
   * comes from the repository's root commits, a walk of the whole history: findings are fingerprinted (and
   * baselined) in finish(), so that walk never holds up scanning.
   */
  private readonly pending = new WeakMap<Finding, { identity: string; ruleId: string; secret: string }>();
  /** Per identity (rule, file, secret): how many suppressible occurrences reached the baseline check. */
  private readonly occurrences = new Map<string, number>();
  /** Called once, when scan() first returns a finding (to start looking up the key it will need). */
  onFirstFinding?: () => void;
  constructor(
    rules: readonly Rule[],
    private readonly skipped: SkippedCounts,
  ) {
    this.rules = rules;
    // A keyword is searched as its UTF-8 bytes (read as latin1), so a non-ASCII keyword or --known value
    // matches the raw bytes too; without the `u` flag /i never folds a non-ASCII character onto an ASCII one.
    this.keywordForms = rules.map((r) => r.keywords.map((k) => Buffer.from(k, 'utf8').toString('latin1')));
    this.keywordRes = this.keywordForms.map((forms) => (forms.length ? new RegExp(forms.map(escapeRe).join('|'), 'i') : null));
  }

  /** One regex of the keywords of the rules in `pending`, longest first (so a shorter keyword at the same offset is inside the match). */
  private combinedFor(pending: number[]): RegExp {
    // A bit set while it fits (the usual case: a handful of rules), else the list itself.
    let id: number | string = 0;
    if (this.rules.length <= 30) for (const i of pending) id |= 1 << i;
    else id = pending.join(',');
    let re = this.combined.get(id);
    if (!re) {
      const forms = [...new Set(pending.flatMap((i) => this.keywordForms[i]))].sort((a, b) => b.length - a.length);
      re = new RegExp(forms.map(escapeRe).join('|'), 'gi');
      this.combined.set(id, re);
    }
    return re;
  }

  /**
   * Which rules this chunk needs, from its bytes: a rule is needed when one of its keywords occurs
   * (case-insensitive). One pass for all rules instead of one per rule: at each keyword found, the rules it
   * (or a keyword inside it) belongs to are marked, and the search goes on from the next byte with only the
   * keywords of the rules still pending, so it ends at the first offset where nothing is left to find.
   */
  activeRules(bytes: Buffer): number[] {
    const text = bytes.toString('latin1');
    const needed = new Array<boolean>(this.rules.length).fill(false);
    let pending: number[] = [];
    for (let i = 0; i < this.rules.length; i++) {
      if (this.keywordRes[i] === null) needed[i] = true;
      else pending.push(i);
    }
    let pos = 0;
    while (pending.length) {
      const re = this.combinedFor(pending);
      re.lastIndex = pos;
      const m = re.exec(text);
      if (m === null) break;
      const hit = m[0];
      const still: number[] = [];
      for (const i of pending) {
        if (this.keywordRes[i]!.test(hit)) needed[i] = true;
        else still.push(i);
      }
      pending = still;
      pos = m.index + 1;
    }
    const active: number[] = [];
    for (let i = 0; i < this.rules.length; i++) if (needed[i]) active.push(i);
    return active;
  }

  /** activeRules() the plain way, one regex test per rule (the reference the fast path is tested against). */
  activeRulesPerRule(bytes: Buffer): number[] {
    const text = bytes.toString('latin1');
    const active: number[] = [];
    for (let i = 0; i < this.rules.length; i++) {
      const re = this.keywordRes[i];
      if (re === null || re.test(text)) active.push(i);
    }
    return active;
  }

  /**
   * Scans one chunk. `lineNumbers[i]` is the file line of the chunk's line i (history hunks hold only
   * added lines); omitted, chunk line i is file line i + 1.
   */
  scan(file: string, bytes: Buffer, meta: ChunkMeta, lineNumbers?: number[]): Finding[] {
    const active = this.activeRules(bytes);
    if (active.length === 0) return [];
    const text = bytes.toString('utf8');
    const chunk = { file, text };
    const candidates: Candidate[] = [];
    for (const i of active) {
      for (const m of this.rules[i].detect(chunk)) {
        if (m.end > m.start) candidates.push({ rule: this.rules[i], priority: i, start: m.start, end: m.end });
      }
    }
    if (candidates.length === 0) return [];
    // One finding per secret: when rules overlap, the higher-priority (earlier) rule wins.
    candidates.sort((a, b) => a.priority - b.priority || a.start - b.start);
    const kept: Candidate[] = [];
    for (const c of candidates) {
      if (!kept.some((k) => c.start < k.end && k.start < c.end)) kept.push(c);
    }
    kept.sort((a, b) => a.start - b.start);

    const lineStarts = lineStartsOf(text);
    const findings: Finding[] = [];
    for (const c of kept) {
      const li = lineIndexAt(lineStarts, c.start);
      const lineStart = lineStarts[li];
      const lineEnd = li + 1 < lineStarts.length ? lineStarts[li + 1] - 1 : text.length;
      const lineText = text.slice(lineStart, lineEnd);
      const secret = text.slice(c.start, c.end);
      if (!c.rule.unsuppressible && lineText.includes(ALLOW_MARKER)) {
        this.skipped.allowed++;
        continue;
      }
      const identity = `${c.rule.id}\u0000${file}\u0000${secret}`;
      if (!c.rule.unsuppressible) this.occurrences.set(identity, (this.occurrences.get(identity) ?? 0) + 1);
      const onLine = kept.filter((k) => k.start < lineEnd && k.end > lineStart);
      const finding: Finding = {
        ruleId: c.rule.id,
        file,
        line: lineNumbers ? lineNumbers[li] : li + 1,
        column: c.start - lineStart + 1,
        commit: meta.commit,
        author: meta.author,
        date: meta.date,
        fingerprint: '',
        severity: c.rule.severity,
        snippet: snippetOf(lineText, lineStart, onLine, c.start - lineStart),
      };
      this.pending.set(finding, { identity, ruleId: c.rule.id, secret });
      findings.push(finding);
    }
    if (findings.length && this.onFirstFinding) {
      const first = this.onFirstFinding;
      this.onFirstFinding = undefined;
      first();
    }
    return findings;
  }

  /**
   * Which secret a finding of scan() is: equal for the same rule, file and secret (what its fingerprint
   * will be computed from), whatever the key. History scans report each once.
   */
  identityOf(f: Finding): string {
    const p = this.pending.get(f);
    if (!p) throw new Error('identityOf: not a finding of this detector');
    return p.identity;
  }

  /**
   * Fingerprints the findings scan() returned (or those of them a history scan kept) and drops those the
   * baseline lists, counting every occurrence of each dropped secret, as when the check ran per chunk.
   */
  finish(findings: Finding[], key: Buffer, baseline: Set<string> | null): Finding[] {
    const out: Finding[] = [];
    const dropped = new Set<string>();
    for (const f of findings) {
      const p = this.pending.get(f);
      if (!p) throw new Error('finish: not a finding of this detector');
      f.fingerprint = fingerprintOf(key, p.ruleId, f.file, p.secret);
      const count = this.occurrences.get(p.identity);
      if (count !== undefined && baseline?.has(f.fingerprint)) {
        if (!dropped.has(p.identity)) this.skipped.baselined += count;
        dropped.add(p.identity);
        continue;
      }
      out.push(f);
    }
    return out;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineIndexAt(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The line with every secret on it masked, trimmed around the finding, control characters made visible. */
function snippetOf(line: string, lineStart: number, spans: { start: number; end: number }[], col: number): string {
  let out = '';
  let pos = 0;
  let focus = col;
  // The same secret again on the line (a commented-out copy, its base64 or URL form) would show it whole.
  const found = spans.map((s) => line.slice(Math.max(0, s.start - lineStart), Math.min(line.length, s.end - lineStart))).filter((v) => v.length >= 4);
  const copies = found.length ? PatternSet.forSecrets(found) : null;
  const others = (text: string): string => (copies ? copies.maskString(text) : text);
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    const a = Math.max(0, s.start - lineStart);
    const b = Math.min(line.length, s.end - lineStart);
    if (a < pos) continue;
    out += others(line.slice(pos, a));
    if (a === col) focus = out.length;
    out += maskSecret(line.slice(a, b));
    pos = b;
  }
  out += others(line.slice(pos));
  // A secret continuing past the line end (a PEM block) was cut by the slice above; its start is masked.
  out = out.replace(/\r$/, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '?').replace(/\t/g, ' ');
  if (out.length > SNIPPET_MAX) {
    const from = Math.max(0, Math.min(focus - 40, out.length - SNIPPET_MAX));
    out = `${from > 0 ? '…' : ''}${out.slice(from, from + SNIPPET_MAX)}${from + SNIPPET_MAX < out.length ? '…' : ''}`;
  }
  out = out.trim();
  // Second line of defence: any value this process knows is secret (the --known values) is masked too.
  return maskKnownSecrets(out);
}
