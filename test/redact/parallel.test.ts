import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { parsePolicy, presetPolicy, redactFile, type RedactFormat } from '../../src/redact/index.js';
import { planCuts, redactInRanges, type Cut } from '../../src/redact/parallel.js';
import { canary, expectNoLeak, expectNoLeakInDir } from '../helpers/canary.js';
import { runCli, isolatedEnv, tempDir } from '../helpers/cli.js';
import { runCliOnTty } from '../helpers/tty.js';

// Parallel redaction cuts a file at guessed record starts; every guess is confirmed by the range before it.
// These tests cut at random offsets (mid-string, mid-number, inside a multi-byte character, inside a quoted
// CSV field) and require the output and the counts to be exactly those of one thread reading the file.

const TMP = mkdtempSync(join(tmpdir(), 'cg-par-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const KEY = Buffer.alloc(32, 7);
let n = 0;

const NAMES = ['Ana Silva', 'Bruno Okafor', 'Chioma Ivanova', 'Dmitri Tanaka', 'Élodie Moreau', 'José Núñez'];
const who = fc.integer({ min: 0, max: NAMES.length - 1 });
const emailOf = (i: number): string => `${NAMES[i]!.split(' ')[0]!.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()}.x${i}@acme.com`;
const noteArb = fc.oneof(
  fc.constant(''),
  who.map((i) => `ask ${NAMES[i]} about it`),
  who.map((i) => `cc ${emailOf(i)}, "quoted" },{"ownerName": "${NAMES[i]}"}`),
  fc.constant('call +1 415 555 0134\nthen [close], {later}'),
  fc.string({ maxLength: 12 }),
);
const rowArb = fc.record({ owner: who, mention: noteArb, amount: fc.integer({ min: -1000, max: 10_000_000 }), nested: fc.boolean() });

function flatDoc(rows: { owner: number; mention: string; amount: number; nested: boolean }[], pretty: boolean): string {
  const recs = rows.map((r, k) => ({
    ownerName: NAMES[r.owner],
    ownerEmail: emailOf(r.owner),
    forecastAmount: r.amount / 100,
    timePeriod: `2026_Q${(k % 4) + 1}`,
    ...(r.mention ? { notes: r.mention } : {}),
    // A nested array of objects whose first key is the records' first key: a decoy for the cut guesser.
    ...(r.nested ? { history: [{ ownerName: NAMES[(r.owner + 1) % NAMES.length], at: k }] } : {}),
  }));
  return pretty ? JSON.stringify(recs, null, 2) : JSON.stringify(recs);
}

function sectionedDoc(rows: { owner: number; mention: string; amount: number }[]): string {
  const users = NAMES.map((name, i) => ({ userId: `u${i}`, name, email: emailOf(i), crmId: `005000${i}AAI` }));
  const entries = rows.map((r, k) => ({ userId: `u${r.owner}`, fieldId: 'forecast', timeFrameId: `w${k}`, forecastValue: r.amount, comment: r.mention || 'none' }));
  // entries before users: names are mentioned before the roster section is read.
  return JSON.stringify({ entries, users, fields: [{ fieldId: 'forecast', fieldName: 'Forecast' }], pagination: { next: null } }, null, 1);
}

function ndjsonDoc(rows: { owner: number; mention: string; amount: number }[]): string {
  return rows.map((r) => JSON.stringify({ ownerName: NAMES[r.owner], ownerEmail: emailOf(r.owner), forecastAmount: r.amount, notes: r.mention })).join('\n') + '\n';
}

function csvDoc(rows: { owner: number; mention: string; amount: number }[], crlf: boolean): string {
  const nl = crlf ? '\r\n' : '\n';
  const q = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = ['User,Email,CRM User ID,Role,Parent Role,Timeframe,Field,Week,Start Day,End Day,Data Type,Data Value'];
  for (const r of rows) lines.push([NAMES[r.owner]!, emailOf(r.owner), `005000${r.owner}AAI`, q(r.mention || 'Rep'), 'VP', 'July FY 2026', 'Commit', '1', '06/30/2026', '06/30/2026', 'Forecast Value', q(`$${r.amount}.00`)].join(','));
  return lines.join(nl) + nl;
}

const sink = (): { out: Writable; text: () => string } => {
  const chunks: Buffer[] = [];
  return {
    out: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
};

async function oneThread(file: string, format: RedactFormat, preset: string) {
  const s = sink();
  const report = await redactFile({ in: file, format, preset, key: KEY, threads: 0, stdout: s.out });
  return { text: s.text(), report };
}

async function inRanges(file: string, format: RedactFormat, preset: string, cuts?: Cut[], threads = 3) {
  const s = sink();
  const head = readFileSync(file).subarray(0, 256 * 1024);
  const report = await redactInRanges({ file, size: statSync(file).size, head, format, policy: presetPolicy(preset), presetName: preset, key: KEY, source: file, output: s.out, threads, tmpDir: TMP, workers: false, cuts });
  return { text: s.text(), report };
}

const counts = (r: { rows: number; detectors: unknown; rules: unknown; unknownFields: unknown; roster: { size: number } }) => ({ rows: r.rows, detectors: r.detectors, rules: r.rules, unknownFields: r.unknownFields, roster: r.roster.size });

/** Random cut offsets (any byte) with random section guesses. */
const cutsArb = (size: number, sections: (string | null)[]) =>
  fc.uniqueArray(fc.record({ at: fc.integer({ min: 1, max: Math.max(1, size - 1) }), section: fc.constantFrom(...sections) }), { minLength: 1, maxLength: 6, selector: (c) => c.at }).map((cs) => cs.sort((a, b) => a.at - b.at));

async function checkSame(text: string, ext: string, format: RedactFormat, preset: string, sections: (string | null)[], seed: number): Promise<void> {
  const file = join(TMP, `in-${n++}.${ext}`);
  writeFileSync(file, text);
  const want = await oneThread(file, format, preset);
  // The cuts the guesser picks, then arbitrary ones.
  const guessed = await inRanges(file, format, preset);
  if (guessed.text) {
    expect(guessed.text).toBe(want.text);
    expect(counts(guessed.report!)).toEqual(counts(want.report));
  }
  await fc.assert(
    fc.asyncProperty(cutsArb(Buffer.byteLength(text), sections), async (cuts) => {
      const got = await inRanges(file, format, preset, cuts);
      expect(got.text).toBe(want.text);
      expect(counts(got.report!)).toEqual(counts(want.report));
    }),
    { numRuns: 12, seed },
  );
}

describe('parallel redaction gives exactly the single-thread output', () => {
  it('flat JSON (pretty and compact, nested decoys, strings that look like record starts)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 2, maxLength: 25 }), fc.boolean(), fc.integer(), async (rows, pretty, seed) => {
        await checkSame(flatDoc(rows, pretty), 'json', 'json', 'flat-entries', [null, 'entries'], seed);
      }),
      { numRuns: 8 },
    );
  });

  it('sectioned forecast JSON (entries before users, top-level values)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 2, maxLength: 20 }), fc.integer(), async (rows, seed) => {
        await checkSame(sectionedDoc(rows), 'json', 'json', 'forecast-json', ['entries', 'users', null], seed);
      }),
      { numRuns: 6 },
    );
  });

  it('NDJSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 2, maxLength: 25 }), fc.integer(), async (rows, seed) => {
        await checkSame(ndjsonDoc(rows), 'ndjson', 'ndjson', 'flat-entries', [null], seed);
      }),
      { numRuns: 6 },
    );
  });

  it('CSV (LF and CRLF, quoted fields with newlines and commas)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 2, maxLength: 25 }), fc.boolean(), fc.integer(), async (rows, crlf, seed) => {
        await checkSame(csvDoc(rows, crlf), 'csv', 'csv', 'forecast-csv', [null], seed);
      }),
      { numRuns: 6 },
    );
  });

  it('a policy without roster rules (no roster phase: the redaction phase confirms the cuts)', async () => {
    const policy = parsePolicy({ rules: [{ path: 'ownerEmail', action: 'mask', with: 'x' }, { path: 'notes', action: 'drop' }], unknownFields: 'keep' });
    const rows = Array.from({ length: 300 }, (_, k) => ({ owner: k % NAMES.length, mention: k % 3 ? 'ask Ana Silva' : '', amount: k, nested: k % 40 === 0 }));
    const file = join(TMP, `noroster-${n++}.json`);
    writeFileSync(file, flatDoc(rows, true));
    const one = sink();
    const want = await redactFile({ in: file, format: 'json', policy, key: KEY, threads: 0, stdout: one.out });
    const size = statSync(file).size;
    for (const cuts of [undefined, [{ at: 17, section: null }, { at: Math.floor(size / 2), section: null }]]) {
      const par = sink();
      const got = await redactInRanges({ file, size, head: readFileSync(file).subarray(0, 4096), format: 'json', policy, presetName: null, key: KEY, source: file, output: par.out, threads: 4, tmpDir: TMP, workers: false, cuts });
      expect(par.text()).toBe(one.text());
      expect(counts(got!)).toEqual(counts(want));
      expect(got!.roster.prepass).toBe(false);
    }
  });

  it('the guesser cuts a flat export at record starts', () => {
    const rows = Array.from({ length: 400 }, (_, k) => ({ owner: k % NAMES.length, mention: '', amount: k, nested: false }));
    const file = join(TMP, 'plan.json');
    writeFileSync(file, flatDoc(rows, true));
    const text = readFileSync(file);
    const fd = openSync(file, 'r');
    const plan = planCuts(fd, text.length, text.subarray(0, 1024), 'json', file, 4);
    closeSync(fd);
    expect(plan!.cuts).toHaveLength(3);
    for (const c of plan!.cuts) expect(text.subarray(c.at, c.at + 1).toString()).toBe('{');
  });
});

describe('errors in a later range', () => {
  it('name the file, the absolute line and byte offset, as one thread does', async () => {
    const rows = Array.from({ length: 60 }, (_, k) => ({ owner: k % NAMES.length, mention: k === 45 ? 'x' : '', amount: k, nested: false }));
    const good = flatDoc(rows, true);
    const bad = good.replace('"notes": "x"', '"notes": tru');
    const file = join(TMP, 'bad.json');
    writeFileSync(file, bad);
    const one = await oneThread(file, 'json', 'flat-entries').catch((e: unknown) => e);
    const par = await inRanges(file, 'json', 'flat-entries', undefined, 4).catch((e: unknown) => e);
    expect(one).toBeInstanceOf(InputError);
    expect(par).toBeInstanceOf(InputError);
    expect((par as Error).message).toBe((one as Error).message);
    expect((par as InputError).line).toBe((one as InputError).line);
    expect((par as InputError).line).toBeGreaterThan(200);
    expect(readdirSync(TMP).filter((f) => f.startsWith('.clariguard-ranges-'))).toEqual([]);
  });
});

describe('clariguard redact on a file, with worker threads', () => {
  it('writes the same bytes as one thread, leaves no part files, and never shows the key', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const key = canary('cgkey');
      const env = isolatedEnv(dir, { CG_KEY: key });
      const rows = Array.from({ length: 3000 }, (_, k) => ({ owner: k % NAMES.length, mention: k % 7 === 0 ? `ask ${NAMES[(k + 1) % NAMES.length]}` : '', amount: k * 13, nested: k % 50 === 0 }));
      writeFileSync(join(dir, 'flat.json'), flatDoc(rows, true));
      const args = (out: string) => ['redact', '--in', join(dir, 'flat.json'), '--out', join(dir, out), '--key', 'env:CG_KEY'];
      const par = await runCli(args('par.json'), { env: { ...env, CLARIGUARD_REDACT_THREADS: '2' } });
      const one = await runCli(args('one.json'), { env: { ...env, CLARIGUARD_REDACT_THREADS: '0' } });
      expect(par.stderr).toContain('redacted 3000 records');
      expect(par.code).toBe(0);
      expect(one.code).toBe(0);
      expect(readFileSync(join(dir, 'par.json'), 'utf8')).toBe(readFileSync(join(dir, 'one.json'), 'utf8'));
      expect(readdirSync(dir).filter((f) => f.startsWith('.clariguard') || f.endsWith('.tmp'))).toEqual([]);
      for (const r of [par, one]) expectNoLeak(r.stdout + r.stderr, key);
      expectNoLeakInDir(dir, key);
    } finally {
      cleanup();
    }
  });

  it('threads started before the key is read do not keep a failed run alive (a key that is not there)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = isolatedEnv(dir, {});
      writeFileSync(join(dir, 'flat.json'), flatDoc([{ owner: 0, mention: '', amount: 1, nested: false }], true));
      const started = Date.now();
      const r = await runCli(['redact', '--in', join(dir, 'flat.json'), '--out', join(dir, 'out.json'), '--key', 'env:CG_MISSING_KEY'], { env: { ...env, CLARIGUARD_REDACT_THREADS: '2' } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/env: references are read-only/);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(readdirSync(dir).filter((f) => f !== 'clariguard')).toEqual(['flat.json']);
    } finally {
      cleanup();
    }
  });
});

describe('prewarmRedaction', () => {
  it('starts the threads a file run will use; the run gives the same bytes, and threads nobody took are ended', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { prewarmRedaction } = await import('../../src/redact/index.js');
      const rows = Array.from({ length: 800 }, (_, k) => ({ owner: k % NAMES.length, mention: k % 5 === 0 ? `ask ${NAMES[(k + 2) % NAMES.length]}` : '', amount: k, nested: false }));
      const file = join(dir, 'flat.json');
      writeFileSync(file, flatDoc(rows, true));
      const run = async (prewarm: boolean, threads: number): Promise<string> => {
        if (prewarm) prewarmRedaction({ in: file, threads });
        await redactFile({ in: file, out: join(dir, `out-${prewarm}-${threads}.json`), preset: 'flat-entries', key: KEY, threads });
        return readFileSync(join(dir, `out-${prewarm}-${threads}.json`), 'utf8');
      };
      const want = await run(false, 0);
      expect(await run(true, 2)).toBe(want);
      // Started, then not used (one thread asked for after all): ended by the run.
      prewarmRedaction({ in: file, threads: 3 });
      expect(await run(false, 0)).toBe(want);
    } finally {
      cleanup();
    }
  });
});


describe('clariguard redact progress', () => {
  it('shows a progress line on a terminal (one thread and several), none when stderr is not a terminal', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const key = canary('cgkey');
      const env = isolatedEnv(dir, { CG_KEY: key });
      const rows = Array.from({ length: 4000 }, (_, k) => ({ owner: k % NAMES.length, mention: k % 9 ? '' : 'ask Ana Silva', amount: k, nested: false }));
      writeFileSync(join(dir, 'flat.json'), flatDoc(rows, true));
      const args = ['redact', '--in', join(dir, 'flat.json'), '--out', join(dir, 'out.json'), '--key', 'env:CG_KEY'];
      for (const threads of ['0', '2']) {
        const tty = await runCliOnTty(args, { ...env, CLARIGUARD_REDACT_THREADS: threads }, [], /^$/);
        expect(tty.code).toBe(0);
        expect(tty.screen).toMatch(/redacting flat\.json: \d+%/);
        expect(tty.screen).toContain('redacted 4000 records');
        expectNoLeak(tty.screen, key);
      }
      const plain = await runCli(args, { env: { ...env, CLARIGUARD_REDACT_THREADS: '2' } });
      expect(plain.code).toBe(0);
      expect(plain.stderr).not.toContain('redacting ');
    } finally {
      cleanup();
    }
  });
});

describe('clariguard redact with worker threads on bad input', () => {
  it('exits 65 naming the file, line and offset of an error in a worker range, and leaves nothing behind', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const key = canary('cgkey');
      const env = isolatedEnv(dir, { CG_KEY: key });
      const rows = Array.from({ length: 2000 }, (_, k) => ({ owner: k % NAMES.length, mention: k === 1900 ? 'x' : '', amount: k, nested: false }));
      const file = join(dir, 'bad.json');
      writeFileSync(file, flatDoc(rows, true).replace('"notes": "x"', '"notes": tru'));
      const args = ['redact', '--in', file, '--out', join(dir, 'out.json'), '--key', 'env:CG_KEY'];
      const par = await runCli(args, { env: { ...env, CLARIGUARD_REDACT_THREADS: '2' } });
      const one = await runCli(args, { env: { ...env, CLARIGUARD_REDACT_THREADS: '0' } });
      expect(par.code).toBe(65);
      expect(par.stderr.trim().split('\n')).toHaveLength(1);
      expect(par.stderr).toMatch(/bad\.json \(line \d+, byte offset \d+\)/);
      expect(par.stderr).toBe(one.stderr);
      // The parser's message quotes the surrounding text: the export's data must not reach the error.
      expect(par.stderr).not.toMatch(/notes|Silva|Okafor|acme/);
      expect(readdirSync(dir).filter((f) => f !== 'clariguard')).toEqual(['bad.json']);
      expectNoLeak(par.stdout + par.stderr, key);
    } finally {
      cleanup();
    }
  });
});

describe('clariguard redact with worker threads on bad CSV', () => {
  it('exits 65 naming the file, line and offset of a quoting error in a worker range, and leaves nothing behind', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const key = canary('cgkey');
      const env = isolatedEnv(dir, { CG_KEY: key });
      const rows = Array.from({ length: 3000 }, (_, k) => ({ owner: k % NAMES.length, mention: '', amount: k }));
      const file = join(dir, 'bad.csv');
      const lines = csvDoc(rows, true).split('\r\n');
      lines[2700] = lines[2700]!.replace('Forecast Value', 'Forecast "Value');
      writeFileSync(file, lines.join('\r\n'));
      const args = ['redact', '--in', file, '--out', join(dir, 'out.csv'), '--key', 'env:CG_KEY'];
      const par = await runCli(args, { env: { ...env, CLARIGUARD_REDACT_THREADS: '2' } });
      const one = await runCli(args, { env: { ...env, CLARIGUARD_REDACT_THREADS: '0' } });
      expect(par.code).toBe(65);
      expect(par.stderr.trim().split('\n')).toHaveLength(1);
      expect(par.stderr).toMatch(/bad\.csv \(line 2701, byte offset \d+\): malformed CSV/);
      expect(par.stderr).toBe(one.stderr);
      expect(readdirSync(dir).filter((f) => f !== 'clariguard')).toEqual(['bad.csv']);
      expectNoLeak(par.stdout + par.stderr, key);
    } finally {
      cleanup();
    }
  });
});

describe('clariguard redact on CSV with two errors', () => {
  it('names the first one, with and without worker threads, although the roster pre-pass reads only the roster columns', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = isolatedEnv(dir, { CG_KEY: canary('cgkey2') });
      const rows = Array.from({ length: 3000 }, (_, k) => ({ owner: k % NAMES.length, mention: '', amount: k }));
      const file = join(dir, 'two.csv');
      const lines = csvDoc(rows, false).split('\n');
      // First two quotes in a column the pre-pass skips (the quote parity it follows flips, then flips back),
      // then one in the User column, which the pre-pass reads, in the second thread's half.
      lines[100] = lines[100]!.replace('Forecast Value', 'Forecast "Value');
      lines[200] = lines[200]!.replace('Forecast Value', 'Forecast "Value');
      lines[2700] = lines[2700]!.replace(/^[^,]+/, 'Bad"Name');
      writeFileSync(file, lines.join('\n'));
      const args = ['redact', '--in', file, '--out', join(dir, 'out.csv'), '--key', 'env:CG_KEY'];
      const par = await runCli(args, { env: { ...env, CLARIGUARD_REDACT_THREADS: '2' } });
      const one = await runCli(args, { env: { ...env, CLARIGUARD_REDACT_THREADS: '0' } });
      expect(one.code).toBe(65);
      expect(one.stderr).toMatch(/two\.csv \(line 101, byte offset \d+\): malformed CSV: a quote inside an unquoted field/);
      expect(par.code).toBe(65);
      expect(par.stderr).toBe(one.stderr);
      expect(readdirSync(dir).filter((f) => f !== 'clariguard')).toEqual(['two.csv']);
    } finally {
      cleanup();
    }
  });
});

describe('the roster pre-pass reads flat records without decoding them', () => {
  it('finds exactly the names the member walk finds, in order, with the roster walker (escaped keys, duplicates, nested decoys, arrays, escapes)', async () => {
    const { RecordRedactor } = await import('../../src/redact/engine.js');
    const { rosterScanner } = await import('../../src/redact/ranges.js');
    const member = fc.oneof(
      who.map((i) => `"ownerName": ${JSON.stringify(NAMES[i])}`),
      who.map((i) => `"owner\\u004eame": ${JSON.stringify(NAMES[i])}`),
      who.map((i) => `"ownerName": [${JSON.stringify(NAMES[i])}, "Zed Quux"]`),
      who.map((i) => `"ownerId": "0050${i}AAI\\u00e9"`),
      who.map((i) => `"nested": {"ownerName": ${JSON.stringify(NAMES[i])}}`),
      who.map((i) => `"notes": "say \\"ownerName\\": \\"${NAMES[i]}\\""`),
      fc.constant('"ownerName": null'),
      fc.constant('"ownerName": 12'),
      fc.constant('"amount": -1.5e3'),
    );
    const doc = fc.array(fc.array(member, { maxLength: 5 }), { minLength: 1, maxLength: 12 }).map((recs) => `[\n${recs.map((m) => `  {${m.join(',\n    ')}}`).join(',\n')}\n]\n`);
    await fc.assert(
      fc.asyncProperty(doc, fc.integer({ min: 7, max: 400 }), async (text, chunk) => {
        const entries = (walker: boolean, wasm = true) => {
          const engine = new RecordRedactor(presetPolicy('flat-entries'), KEY, { sourceName: 'tap.json' });
          const s = rosterScanner(engine, 'json', null, { walker, wasm });
          const b = Buffer.from(text);
          // Odd chunk sizes: records cut by a chunk's end take the ordinary path.
          for (let i = 0; i < b.length; i += chunk) s.push(b.subarray(i, i + chunk));
          s.end();
          return { roster: engine.roster.entries(), lines: s.lineNo };
        };
        // The roster walker (in WebAssembly and in JavaScript) and the full member walk: the same names in the
        // same order.
        const want = entries(false);
        expect(entries(true)).toEqual(want);
        expect(entries(true, false)).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });
});
