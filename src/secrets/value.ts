import { timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { registerSecretValue } from '../masking/registry.js';
import { maskForDisplay } from '../masking/display.js';

/**
 * A secret held in memory. It cannot be printed, logged or serialised by accident: `toString`,
 * `toJSON` and `util.inspect` all give a placeholder; `reveal()` is the one explicit way to the value.
 * Every value is registered with the masking registry so the logger and error printer mask it too.
 */
export class SecretValue {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    registerSecretValue(value);
  }
  reveal(): string {
    return this.#value;
  }
  /** Human-recognisable masked form, e.g. `cl****…**9f`. */
  masked(): string {
    return maskForDisplay(this.#value);
  }
  get length(): number {
    return this.#value.length;
  }
  equals(other: SecretValue): boolean {
    const a = Buffer.from(this.#value);
    const b = Buffer.from(other.reveal());
    return a.length === b.length && timingSafeEqual(a, b);
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [inspect.custom](): string {
    return 'SecretValue([secret])';
  }
}

