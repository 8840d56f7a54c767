import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** Directories never worth descending into when looking for files in a work tree. */
export const SKIP_DIRS = new Set(['.git', 'node_modules', '.hg', '.svn']);

export interface WalkEntry {
  path: string;
  stat: Stats;
}

/**
 * Files (and, with `dirs`, directories) under `root`, depth first, without following symlinks.
 * A single file root yields itself; a missing root yields nothing.
 */
export function walk(root: string, options: { dirs?: boolean; skip?: Set<string>; limit?: number } = {}): WalkEntry[] {
  const skip = options.skip ?? SKIP_DIRS;
  const limit = options.limit ?? 200_000;
  const out: WalkEntry[] = [];
  let st: Stats;
  try {
    st = lstatSync(root);
  } catch {
    return out;
  }
  if (!st.isDirectory()) return st.isFile() ? [{ path: root, stat: st }] : out;
  const stack: string[] = [root];
  if (options.dirs) out.push({ path: root, stat: st });
  while (stack.length && out.length < limit) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const p = join(dir, name);
      let s: Stats;
      try {
        s = lstatSync(p);
      } catch {
        continue;
      }
      if (s.isDirectory()) {
        if (skip.has(name)) continue;
        if (options.dirs) out.push({ path: p, stat: s });
        stack.push(p);
      } else if (s.isFile()) {
        out.push({ path: p, stat: s });
      }
    }
  }
  return out;
}
