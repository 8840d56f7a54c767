export * from './types.js';
export { formatText, toSarif, toJsonReport } from './format.js';
export { DEFAULT_RULES, loadRulesFile, knownTokenRule } from './rules/index.js';
export { shannonEntropy, whyNotCredential, isCredentialLike } from './heuristics.js';
export { fingerprintOf, scanKeyFor, loadBaseline, writeBaseline, BASELINE_FORMAT, type ScanKey } from './fingerprint.js';
export { maskSecret } from './engine.js';
export { DEFAULT_MAX_FILE_BYTES, readKnownValues, resolveRules, scan, scanForReport, scanWithRules, writeScanBaseline } from './run.js';
