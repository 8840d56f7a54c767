/**
 * Stateless deterministic hashing: every synthetic value is a pure function of (seed, indices), so the
 * sandbox can generate record N of a million without generating (or storing) records 0..N-1.
 */
export function mix32(a: number): number {
  a = (a ^ (a >>> 16)) >>> 0;
  a = Math.imul(a, 0x7feb352d);
  a = (a ^ (a >>> 15)) >>> 0;
  a = Math.imul(a, 0x846ca68b);
  a = (a ^ (a >>> 16)) >>> 0;
  return a >>> 0;
}

export function hash(seed: number, a: number, b = 0, c = 0, d = 0): number {
  let x = mix32((seed ^ 0x9e3779b9) >>> 0);
  x = mix32((x ^ a) >>> 0);
  x = mix32((x + Math.imul(b, 0x85ebca6b)) >>> 0);
  x = mix32((x ^ Math.imul(c, 0xc2b2ae35)) >>> 0);
  x = mix32((x + Math.imul(d, 0x27d4eb2f)) >>> 0);
  return x;
}

/** Uniform in [0, 1). */
export function unit(h: number): number {
  return h / 4294967296;
}

export function pick<T>(list: readonly T[], h: number): T {
  return list[h % list.length];
}

/** A seeded sequential generator (mulberry32) for things that are naturally sequential (fault injection). */
export function sequence(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A Salesforce-looking 18-character id with the given 3-character key prefix (005 user, 001 account, 006 opportunity). */
export function sfdcId(prefix: string, seed: number, kind: number, i: number): string {
  let s = prefix + '0000';
  let h = hash(seed, kind, i, 1);
  let h2 = hash(seed, kind, i, 2);
  for (let k = 0; k < 8; k++) {
    s += B62[h % 62];
    h = (Math.floor(h / 62) ^ mix32((h2 + k) >>> 0)) >>> 0;
    h2 = mix32(h2);
  }
  // The real id's 3-char suffix is a case checksum of the first 15; any A-Z0-5 chars look right.
  const suf = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  const c = hash(seed, kind, i, 3);
  return s + suf[c & 31] + suf[(c >>> 5) & 31] + suf[(c >>> 10) & 31];
}

export function hex(seed: number, kind: number, i: number, chars: number): string {
  let out = '';
  let k = 0;
  while (out.length < chars) out += hash(seed, kind, i, k++).toString(16).padStart(8, '0');
  return out.slice(0, chars);
}

export function uuid(seed: number, kind: number, i: number): string {
  const h = hex(seed, kind, i, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16], 16) & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
