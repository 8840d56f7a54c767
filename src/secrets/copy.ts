import { readSecret, writeSecret, type SecretOptions } from './index.js';

/** Copies the current value of `src` into `dst` as its new current version. The value stays in memory. */
export async function copySecret(src: string, dst: string, o?: SecretOptions): Promise<{ src: string; dst: string; versionId: string }> {
  const value = await readSecret(src, o);
  const { versionId } = await writeSecret(dst, value, o);
  return { src, dst, versionId };
}
