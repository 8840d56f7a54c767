import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { scan } from '../scan/index.js';
import type { Finding } from '../scan/types.js';
import type { SecretValue } from '../secrets/index.js';
import { workTreeOf } from './git.js';
import { reasonOf } from './token.js';
import type { AuditContext, CheckLocation } from './types.js';

export interface ScanSummary {
  findings: Finding[];
  /** Where each finding was (for evidence), secret-free: file:line and the commit that added it. */
  evidence: string[];
  locations: CheckLocation[];
  /** Paths that could not be scanned, with why. */
  notScanned: string[];
  /** Targets that do not exist (nothing there to leak). */
  missing: string[];
  scannedTargets: number;
}

/**
 * Scans `targets` with the given rules: each git repository's work tree (ignored files included: a token in
 * an ignored file is still a plaintext copy) and, with `history`, every commit on every ref; plain paths as files.
 */
export async function scanTargets(
  ctx: AuditContext,
  targets: { path: string; history: boolean }[],
  ruleIds: string[],
  known: SecretValue[] = [],
): Promise<ScanSummary> {
  const out: ScanSummary = { findings: [], evidence: [], locations: [], notScanned: [], missing: [], scannedTargets: 0 };
  const seen = new Set<string>();
  for (const t of targets) {
    const shown = relative(ctx.baseDir, t.path) || '.';
    if (!existsSync(t.path)) {
      out.missing.push(shown);
      continue;
    }
    const modes = [false];
    const root = await workTreeOf(t.path);
    if (t.history) {
      if (root) modes.push(true);
      else out.notScanned.push(`${shown}: history not scanned (not a git repository)`);
    }
    let ok = true;
    for (const history of modes) {
      try {
        const r = await scan({ paths: [t.path], cwd: t.path, history, allFiles: true, known, ruleIds, env: ctx.env });
        for (const f of r.findings) {
          const key = `${f.fingerprint}\u0000${f.commit ?? ''}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.findings.push(f);
          const file = f.commit ? f.file : relative(ctx.baseDir, resolve(root ?? t.path, f.file)) || f.file;
          out.evidence.push(
            f.commit
              ? `${shown}: ${f.ruleId} in ${f.file}:${f.line}, added in commit ${f.commit.slice(0, 12)}${f.date ? ` (${f.date.slice(0, 10)})` : ''}`
              : `${file}:${f.line}:${f.column}: ${f.ruleId}`,
          );
          if (!f.commit) out.locations.push({ file, line: f.line, column: f.column });
        }
      } catch (e) {
        ok = false;
        out.notScanned.push(`${shown}: ${history ? 'history ' : ''}scan failed: ${reasonOf(e)}`);
      }
    }
    if (ok) out.scannedTargets++;
  }
  return out;
}
