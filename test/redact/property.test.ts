import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedactor, findEmails, findPhoneNumbers, parseRecords, presetPolicy, redactStream } from '../../src/redact/index.js';
import { createPseudonymizer } from '../../src/redact/pseudonym.js';
import { phonesIn, phonesInWholeText } from '../../src/redact/detectors.js';

const FIRST = ['Ana', 'Bruno', 'Chioma', 'Dmitri', 'Esther', 'Farid', 'Greta', 'Hiro', 'Ines', 'Jonas'];
const LAST = ['Silva', 'Okafor', 'Ivanova', 'Tanaka', 'Moreau', 'Haddad', 'Lindqvist', 'Costa', 'Novak', 'Brennan'];
const PHONES = ['+1 415 555 0134', '(212) 555-0187', '+44 20 7946 0958', '+49 30 901820', '+33 1 42 68 53 00'];

const person = fc.record({
  first: fc.constantFrom(...FIRST),
  last: fc.constantFrom(...LAST),
  n: fc.integer({ min: 1, max: 99 }),
  phone: fc.constantFrom(...PHONES),
  domain: fc.constantFrom('acme.com', 'example.org', 'corp.io'),
});

/** A random normalised forecast export whose free text mentions its own people in various ways. */
const exportArb = fc
  .uniqueArray(person, { minLength: 1, maxLength: 6, selector: (p) => `${p.first} ${p.last}` })
  .chain((people) =>
    fc.record({
      people: fc.constant(people),
      entriesFirst: fc.boolean(),
      entries: fc.array(
        fc.record({
          who: fc.integer({ min: 0, max: people.length - 1 }),
          mention: fc.integer({ min: 0, max: people.length - 1 }),
          style: fc.constantFrom('name', 'email', 'phone', 'upper', 'none'),
          value: fc.integer({ min: 0, max: 10_000_000 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    }),
  )
  .map(({ people, entries, entriesFirst }) => {
    const users = people.map((p, i) => ({
      userId: `u${i}`,
      name: `${p.first} ${p.last}`,
      email: `${p.first}.${p.last}${p.n}@${p.domain}`.toLowerCase(),
      crmId: `005${String(i).padStart(4, '0')}AAI`,
      hierarchyId: `h${i}`,
      hierarchyName: `Team of ${p.first} ${p.last}`,
      scopeId: 's1',
    }));
    const ents = entries.map((e, k) => {
      const m = people[e.mention]!;
      const mu = users[e.mention]!;
      const note =
        e.style === 'name' ? `ask ${m.first} ${m.last}` : e.style === 'email' ? `cc ${mu.email}` : e.style === 'phone' ? `call ${m.phone}` : e.style === 'upper' ? `ASK ${m.first.toUpperCase()}  ${m.last.toUpperCase()}` : 'no note';
      return { userId: `u${e.who}`, fieldId: 'forecast', timePeriodId: '2026_Q3', timeFrameId: `w${k}`, forecastValue: e.value, updatedBy: users[e.who]!.name, comment: note };
    });
    const doc = entriesFirst ? { entries: ents, users } : { users, entries: ents };
    return { doc, users, people };
  });

const TMP = mkdtempSync(join(tmpdir(), 'cg-prop-'));
let n = 0;

/** Redacts as the CLI does for a file: roster pre-pass over the file, then the streaming pass. */
async function redactText(text: string, key: Buffer): Promise<string> {
  const file = join(TMP, `in-${n++}.json`);
  writeFileSync(file, text);
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  // Small chunks exercise the scanner's resumption across chunk boundaries.
  const parts: Buffer[] = [];
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += 37) parts.push(b.subarray(i, i + 37));
  await redactStream(Readable.from(parts), out, { key, format: 'json', preset: 'forecast-json', sourceName: 'prop.json', rosterFrom: file });
  rmSync(file);
  return Buffer.concat(chunks).toString('utf8');
}

describe('redaction properties (fast-check)', () => {
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);

  it('no input email, phone or name survives anywhere in the output', async () => {
    await fc.assert(
      fc.asyncProperty(exportArb, async ({ doc, users, people }) => {
        const out = await redactText(JSON.stringify(doc, null, 1), keyA);
        const lower = out.toLowerCase();
        for (const u of users) {
          expect(lower).not.toContain(u.email);
          expect(lower).not.toContain(u.name.toLowerCase());
          expect(out).not.toContain(u.crmId);
        }
        for (const p of people) expect(out).not.toContain(p.phone);
        const strings: string[] = [];
        const walk = (v: unknown): void => {
          if (typeof v === 'string') strings.push(v);
          else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
        };
        walk(JSON.parse(out));
        for (const s of strings) {
          expect(findEmails(s).filter((e) => !e.value.endsWith('@redacted.invalid'))).toEqual([]);
          expect(findPhoneNumbers(s.replace(/[0-9a-f]{20}-k[0-9a-f]{6}/g, ''))).toEqual([]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('on a stream (stdin: no pre-pass), a name before its owner\'s field in the same or a later record is found: the same bytes as with the pre-pass', async () => {
    const recordsArb = fc
      .uniqueArray(person, { minLength: 1, maxLength: 5, selector: (p) => `${p.first} ${p.last}` })
      .chain((people) =>
        fc.record({
          people: fc.constant(people),
          format: fc.constantFrom('json' as const, 'ndjson' as const),
          chunk: fc.integer({ min: 1, max: 200 }),
          // Each record mentions someone from itself or an earlier record (a stream cannot know later ones).
          mentions: fc.array(fc.nat(), { minLength: people.length, maxLength: people.length }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(recordsArb, async ({ people, format, chunk, mentions }) => {
        const recs = people.map((p, i) => {
          const m = people[mentions[i]! % (i + 1)]!;
          return { notes: `sync with ${m.first} ${m.last}`, ownerName: `${p.first} ${p.last}`, ownerEmail: `${p.first}.${p.last}${p.n}@${p.domain}`.toLowerCase(), forecastAmount: p.n };
        });
        const text = format === 'json' ? JSON.stringify(recs, null, 1) : `${recs.map((r) => JSON.stringify(r)).join('\n')}\n`;
        const file = join(TMP, `stream-${n++}.${format}`);
        writeFileSync(file, text);
        const run = async (rosterFrom?: string): Promise<string> => {
          const chunks: Buffer[] = [];
          const out = new Writable({
            write(c: Buffer, _e, cb) {
              chunks.push(c);
              cb();
            },
          });
          const b = Buffer.from(text);
          const parts: Buffer[] = [];
          for (let i = 0; i < b.length; i += chunk) parts.push(b.subarray(i, i + chunk));
          await redactStream(Readable.from(parts), out, { key: keyA, format, preset: 'flat-entries', sourceName: 'stream', rosterFrom });
          return Buffer.concat(chunks).toString('utf8');
        };
        const streamed = await run();
        for (const p of people) expect(streamed).not.toContain(`${p.first} ${p.last}`);
        expect(streamed).toBe(await run(file));
        rmSync(file);
      }),
      { numRuns: 60 },
    );
  });

  it('joins between users[] and entries[] survive, pseudonyms are stable per key and differ across keys', async () => {
    await fc.assert(
      fc.asyncProperty(exportArb, async ({ doc }) => {
        const text = JSON.stringify(doc);
        const a1 = JSON.parse(await redactText(text, keyA));
        const a2 = JSON.parse(await redactText(text, keyA));
        const b = JSON.parse(await redactText(text, keyB));
        expect(a1).toEqual(a2);
        const ids = new Set(a1.users.map((u: { userId: string }) => u.userId));
        for (const e of a1.entries) expect(ids.has(e.userId)).toBe(true);
        // The same person: the users[] pseudonym equals the entries[].updatedBy pseudonym.
        for (const [i, e] of a1.entries.entries()) {
          const srcUser = doc.users.find((u) => u.userId === doc.entries[i]!.userId)!;
          const redUser = a1.users[doc.users.indexOf(srcUser)];
          expect(e.updatedBy).toBe(redUser.name);
          expect(e.userId).toBe(redUser.userId);
        }
        for (let i = 0; i < a1.users.length; i++) {
          expect(a1.users[i].email).not.toBe(b.users[i].email);
          expect(a1.users[i].name).not.toBe(b.users[i].name);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('field pseudonyms come from the shared pseudonym contract (warehouse SQL reproduces them)', () => {
    const pz = createPseudonymizer(keyA);
    const r = createRedactor(presetPolicy('forecast-json'), keyA);
    const out = r.redactRecord({ userId: 'u1', name: 'Ana Silva', email: 'Ana.Silva@Acme.com', crmId: '005X' }, 'users') as Record<string, string>;
    expect(out.name).toBe(pz.name('Ana Silva'));
    expect(out.email).toBe(pz.email('Ana.Silva@Acme.com'));
    expect(out.userId).toBe(pz.id('u1', 'User'));
    expect(out.crmId).toBe(pz.id('005X', 'Crm'));
    expect(r.report().rules['users[].email:pseudonymize-email']).toBe(1);
  });

  it('parseRecords streams the sections of a forecast export', async () => {
    const doc = { users: [{ userId: 'u1' }], entries: [{ userId: 'u1' }, { userId: 'u1' }], fields: [], timePeriods: [{ timePeriodId: 't' }], timeFrames: [{ timeFrameId: 'w' }] };
    const got: [string | null, unknown][] = [];
    for await (const { section, record } of parseRecords(Readable.from([Buffer.from(JSON.stringify(doc))]), 'json', 'x.json')) got.push([section, record]);
    expect(got.map((g) => g[0])).toEqual(['users', 'entries', 'entries', 'timePeriods', 'timeFrames']);
    const csv: unknown[] = [];
    for await (const { record } of parseRecords(Readable.from([Buffer.from('User,Email\nA,"a@b.co"\n')]), 'csv', 'x.csv')) csv.push(record);
    expect(csv).toEqual([{ User: 'A', Email: 'a@b.co' }]);
  });
});

describe('phone detection reads only the digits\' neighbourhood', () => {
  const piece = fc.oneof(
    fc.constantFrom(...PHONES, '415 555 0134', '4155550134', '+1-212-555-0187 ext. 12', '(415)555-0134', '2026-05-01 10:30', '12/31/2026', '211-227 (2003)', '+44 (0)20 7946 0958'),
    fc.constantFrom(' ', '  ', '; ', ', ', ' (', ') ', ' +', '+', '-', ':', ':30', ' x', 'x', 'tel:', '#', '.', '/', '[', ']', '~'),
    fc.constantFrom('call', 'Ana Silva', 'id', 'Q3', 'deal', 'ext', 'order', 'A'),
    fc.stringMatching(/^\d{1,12}$/),
  );
  it('finds exactly what the library finds in the whole text, and the same again from its cache', () => {
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 12 }), fc.constantFrom('US', 'GB', 'DE'), (parts, country) => {
        const text = parts.join('');
        const whole = phonesInWholeText(text, country);
        expect(phonesIn(text, country)).toEqual(whole);
        expect(phonesIn(text, country)).toEqual(whole);
      }),
      { numRuns: 1000 },
    );
  });
});
