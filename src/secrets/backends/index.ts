import { UsageError } from '../../errors.js';
import type { BackendContext, SecretBackend } from '../types.js';
import { EnvBackend } from './env.js';
import { LocalStore } from './local.js';
import { AwsSecretsManagerBackend } from './aws-sm.js';
import { DotenvBackend } from './dotenv.js';
import { VaultBackend } from './vault.js';
import { OnePasswordBackend } from './onepassword.js';
import { GcpSecretManagerBackend } from './gcp-sm.js';
import { AzureKeyVaultBackend } from './azure-kv.js';

export type BackendFactory = (ctx: BackendContext) => SecretBackend;

/** One entry per store module. Adding a store = one module + one line here. */
const factories: Record<string, BackendFactory> = {
  local: (ctx) => LocalStore.fromContext(ctx),
  env: (ctx) => EnvBackend.fromContext(ctx),
  'aws-sm': (ctx) => AwsSecretsManagerBackend.fromContext(ctx),
  dotenv: (ctx) => DotenvBackend.fromContext(ctx),
  vault: (ctx) => VaultBackend.fromContext(ctx),
  op: (ctx) => OnePasswordBackend.fromContext(ctx),
  'gcp-sm': (ctx) => GcpSecretManagerBackend.fromContext(ctx),
  'azure-kv': (ctx) => AzureKeyVaultBackend.fromContext(ctx),
};

export function registerBackend(scheme: string, factory: BackendFactory): void {
  factories[scheme] = factory;
}

export function backendFor(scheme: string, ctx: BackendContext): SecretBackend {
  const f = factories[scheme];
  if (!f) throw new UsageError(`no store backend for "${scheme}:" references in this build`);
  return f(ctx);
}

export { LocalStore, EnvBackend };
