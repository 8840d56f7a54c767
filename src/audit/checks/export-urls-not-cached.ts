import { plural } from '../mask.js';
import { scanTargets } from '../scanning.js';
import type { AuditCheck } from '../types.js';

export const exportUrlsNotCached: AuditCheck = {
  id: 'export-urls-not-cached',
  title: 'No signed download URLs in repositories, exports, logs or caches',
  description:
    'Signed download URLs (Clari export results, Copilot media links, S3 pre-signed URLs) are bearer credentials until they expire; the scanner finds none in the repositories (work tree and history), the export paths, the configured log files or the caches.',
  remediation:
    'Delete the files or lines holding the URLs (purge them from git history with git filter-repo), stop logging download URLs (clariguard\'s logger masks them), and clear the caches; if a URL has not expired yet, cancel or re-run the export job so it stops working.',
  configKeys: ['exportPaths', 'logPaths', 'cachePaths', 'repos'],
  async run(ctx) {
    const targets = [
      ...ctx.repos.map((path) => ({ path, history: true })),
      ...[...ctx.exportPaths, ...ctx.logPaths, ...ctx.cachePaths].map((path) => ({ path, history: false })),
    ];
    if (!targets.length) {
      return { status: 'skip', evidence: ['nothing to scan: no repos, exportPaths, logPaths or cachePaths configured'], remediation: this.remediation };
    }
    const s = await scanTargets(ctx, targets, ['signed-download-url']);
    const evidence: string[] = [];
    if (s.findings.length) evidence.push(`${plural(s.findings.length, 'signed download URL')} found:`, ...s.evidence);
    else if (s.scannedTargets) evidence.push(`no signed download URL in ${plural(s.scannedTargets, 'scanned location')}`);
    evidence.push(...s.notScanned.map((n) => `not scanned: ${n}`));
    if (s.missing.length) evidence.push(`does not exist (nothing to scan): ${s.missing.join(', ')}`);
    const status = s.findings.length ? 'fail' : !s.scannedTargets && s.notScanned.length ? 'skip' : !s.scannedTargets ? 'pass' : s.notScanned.length ? 'warn' : 'pass';
    return { status, evidence, remediation: this.remediation, locations: s.locations };
  },
};
