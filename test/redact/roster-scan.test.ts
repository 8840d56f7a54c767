import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileWat, generatedModule, watSources } from '../../scripts/build-wasm.mjs';
import { RecordRedactor } from '../../src/redact/engine.js';
import { parsePolicy, presetPolicy } from '../../src/redact/index.js';
import { rosterScanner } from '../../src/redact/ranges.js';
import { RosterWalker } from '../../src/redact/roster-walker.js';
import { WASM_BASE64 } from '../../src/redact/wasm/roster-scan.wasm.js';

const KEY = Buffer.alloc(32, 3);
const NAMES = ['Ana Silva', 'Bruno Okafor', 'Élodie Moreau', 'José Núñez', 'Zed'];

describe('the WebAssembly roster walk', () => {
  it('is built from its committed source (npm run build:wasm after editing a .wat), as every module is', async () => {
    const wat = watSources().find((p) => p.endsWith(join('redact', 'wasm', 'roster-scan.wat')))!;
    expect(wat).toBeDefined();
    expect((await compileWat(wat)).toString('base64')).toBe(WASM_BASE64);
    expect(readFileSync(wat, 'utf8')).toMatch(/\(func \(export "walk"\)/);
    expect(watSources().length).toBeGreaterThanOrEqual(2);
    for (const src of watSources()) expect(readFileSync(src.replace(/\.wat$/, '.wasm.ts'), 'utf8')).toBe(await generatedModule(src));
  });

  // Members of every kind the walk must read exactly as the JavaScript walk does, including the ones it hands
  // back (escaped keys, containers under a roster key, bad bytes) and records cut anywhere.
  const name = fc.constantFrom(...NAMES);
  const good = fc.oneof(
    name.map((n) => `"ownerName": ${JSON.stringify(n)}`),
    name.map((n) => `"ownerName":${JSON.stringify(n.toUpperCase())}`),
    name.map((n) => `"ownerEmail": ${JSON.stringify(`${n.split(' ')[0]!.toLowerCase()}@acme.com`)}`),
    name.map((n) => `"ownerName": "${n.replace(' ', '\\u0020')}"`),
    name.map((n) => `"ownerName": "${n}\\"q"`),
    name.map((n) => `"nested": {"ownerName": ${JSON.stringify(n)}, "a": [1, "}", {"b": "]"}]}`),
    name.map((n) => `"notes": "met ${n} \\"ownerName\\": {"`),
    fc.constantFrom('"ownerName": ""', '"ownerName": null', '"ownerName": 12', '"ownerName": true', '"amount": -1.5e3', '"ownerName": "a@b"', '"ownerName": "x\\\\@y"', '"": 1', '"timePeriod": "2026_Q1"', '"ownerNameX": "Ana Silva"', '"ownerNam": "Ana Silva"', '"list": []', '"o": {}'),
  );
  const bad = fc.oneof(
    name.map((n) => `"owner\\u004eame": ${JSON.stringify(n)}`),
    name.map((n) => `"ownerName": "${n}\\x"`),
    name.map((n) => `"ownerName": [${JSON.stringify(n)}]`),
    fc.constantFrom('"amount": 01x', '"amount":', '"amount" 1', '"ownerName": "tab\there"', '"ownerName": "bad\u0001"', '"k\u0001": 1'),
  );
  const member = fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 });
  const ws = fc.constantFrom('', ' ', '\n', '\n    ', '\r\n\t', '  \n\n ');
  const record = fc
    .tuple(fc.array(fc.tuple(ws, member, ws), { maxLength: 6 }), ws, fc.constantFrom('}', '}', '}', '}', '}', '}', ']', ',}', ''))
    .map(([ms, w, close]) => `{${w}${ms.map(([a, m, b]) => `${a}${m}${b}`).join(',')}${close}`);

  it('takes the same records, to the same end, with the same newlines and the same roster as the JavaScript walk', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(record, fc.nat(), fc.boolean()), { minLength: 1, maxLength: 20 }), fc.boolean(), (recs, ndjsonPolicy) => {
        const policy = ndjsonPolicy ? presetPolicy('flat-entries') : parsePolicy({ rules: [{ path: 'ownerName', action: 'pseudonymize', as: 'name', roster: true }, { path: 'ownerEmail', action: 'pseudonymize-email', roster: true }], unknownFields: 'keep' });
        const run = (wasm: boolean) => {
          const engine = new RecordRedactor(policy, KEY, { sourceName: 'r.json' });
          const w = new RosterWalker(engine, { wasm });
          const seen: [number, number][] = [];
          for (const [text, cut, trailing] of recs) {
            const full = Buffer.from(trailing ? `${text}, ` : text);
            // A record cut by the end of the bytes read so far, and one with bytes after it.
            const end = cut % 4 !== 0 ? full.length : Math.min(full.length, 1 + (cut % full.length));
            const b = Buffer.alloc(end);
            full.copy(b, 0, 0, end);
            w.fresh();
            const r = w.at(null, b, 0, end);
            seen.push([r < 0 ? -1 : r, r < 0 ? 0 : w.lines]);
          }
          return { seen, roster: engine.roster.entries() };
        };
        expect(run(true)).toEqual(run(false));
      }),
      { numRuns: 600 },
    );
  });

  it('takes thousands of new names in one run (the report area fills and the run goes on), and leaves bad records to the scanner', () => {
    const recs = (bad: boolean) => Array.from({ length: 6000 }, (_, i) => {
      if (i === 2800) return `{"ownerName": "${bad ? 'Bad \\x escape' : 'Esc\\u0061ped Value'}", "forecastAmount": ${i}}`;
      if (i === 4100) return `{"owner\\u004eame": "Escaped Key", "forecastAmount": ${i}}`;
      return `{\n    "ownerName": "Person ${i} Quux",\n    "ownerEmail": "p${i}@acme.com",\n    "forecastAmount": ${i}\n  }`;
    });
    const doc = (bad: boolean) => Buffer.from(`[\n  ${recs(bad).join(',\n  ')}\n]\n`);
    const run = (wasm: boolean, bad = false) => {
      const engine = new RecordRedactor(presetPolicy('flat-entries'), KEY, { sourceName: 'many.json' });
      const s = rosterScanner(engine, 'json', null, { wasm });
      try {
        s.push(doc(bad));
        s.end();
      } catch (e) {
        return { error: (e as Error).message, roster: engine.roster.entries().length };
      }
      return { roster: engine.roster.entries().map(([v]) => v), lines: s.lineNo };
    };
    const got = run(true);
    expect(got.roster).toHaveLength(6000);
    expect(got.roster).toContain('Escaped Key');
    expect(got.roster).toContain('Escaped Value');
    expect(got).toEqual(run(false));
    // A value that is not a JSON string: the scanner names it, after the same names.
    const bad = run(true, true);
    expect(bad.error).toMatch(/many\.json \(line 14002, byte offset \d+\): malformed JSON/);
    expect(bad).toEqual(run(false, true));
  });

  it('reads a record again after its buffer was refilled with other bytes (fresh), and the same bytes once', () => {
    const engine = new RecordRedactor(presetPolicy('flat-entries'), KEY, { sourceName: 'r.json' });
    const w = new RosterWalker(engine, { wasm: true });
    const b = Buffer.from('{"ownerName": "Ana Silva", "forecastAmount": 1}');
    expect(w.at(null, b, 0, b.length)).toBe(b.length);
    b.write('{"ownerName": "Bob Jones", "forecastAmount": 1}');
    w.fresh();
    expect(w.at(null, b, 0, b.length)).toBe(b.length);
    expect(engine.roster.entries().map(([v]) => v)).toEqual(['Ana Silva', 'Bob Jones']);
  });
});
