import { createRequire } from 'node:module';
import type * as Libphonenumber from 'libphonenumber-js';

let lib: typeof Libphonenumber | undefined;

/**
 * libphonenumber-js, loaded on first use (its CommonJS build): most strings never reach the phone parser
 * (fewer than 7 digits, dates, amounts), and importing its ~110 ES modules up front cost every redact,
 * export and verify run ~0.1 s of start-up, in each worker thread too.
 */
export function phoneLib(): typeof Libphonenumber {
  return (lib ??= createRequire(import.meta.url)('libphonenumber-js') as typeof Libphonenumber);
}
