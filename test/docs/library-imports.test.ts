import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

// Users copy the library examples from the docs: every name they import from 'clariguard' must be exported,
// and they may only import from 'clariguard' itself (package.json "exports" has no other entry point).
const root = join(import.meta.dirname, '..', '..');
const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

function imports(file: string): Array<{ names: string[]; from: string }> {
  const text = readFileSync(join(root, file), 'utf8');
  const out: Array<{ names: string[]; from: string }> = [];
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
    // `type X` names have no runtime value; tsc checks those.
    out.push({ names: m[1]!.split(',').map((n) => n.trim()).filter((n) => n && !n.startsWith('type ')), from: m[2]! });
  }
  return out;
}

describe('library examples in the docs', () => {
  for (const file of docs) {
    const found = imports(file);
    if (found.length === 0) continue;
    it(`${file}: imports only exported names from 'clariguard'`, () => {
      for (const { names, from } of found) {
        expect(from, file).toBe('clariguard');
        for (const name of names) expect((api as Record<string, unknown>)[name], `${file}: ${name}`).toBeDefined();
      }
    });
  }
});
