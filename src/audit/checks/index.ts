import type { AuditCheck } from '../types.js';
import { envFilesIgnored } from './env-files-ignored.js';
import { exportUrlsNotCached } from './export-urls-not-cached.js';
import { nonprodPiiRedacted } from './nonprod-pii-redacted.js';
import { tokenAccessAudited } from './token-access-audited.js';
import { tokenAge } from './token-age.js';
import { tokenInSecretStore } from './token-in-secret-store.js';
import { tokenRotatedAfterOffboarding } from './token-rotated-after-offboarding.js';
import { warehouseAccessControlled } from './warehouse-access-controlled.js';

/** The checklist, in report order. Ids are stable. */
export const CHECKS: readonly AuditCheck[] = [
  tokenInSecretStore,
  envFilesIgnored,
  warehouseAccessControlled,
  nonprodPiiRedacted,
  exportUrlsNotCached,
  tokenAccessAudited,
  tokenRotatedAfterOffboarding,
  tokenAge,
];

export const CHECK_IDS = CHECKS.map((c) => c.id);
