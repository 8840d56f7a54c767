export { MASK, MaskingStream, PatternSet } from './masker.js';
export { secretVariants } from './variants.js';
export { registerSecretValue, maskKnownSecrets, knownSecretPatterns } from './registry.js';
export { maskForDisplay } from './display.js';
