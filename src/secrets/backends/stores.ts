/** The team-store backends, for library users who construct them directly (e.g. with injected clients). */
export { AwsSecretsManagerBackend, awsRequestToken, readersFromPolicy, AWS_STAGE_LABELS, type AwsClientConfig, type AwsSecretsManagerOptions } from './aws-sm.js';
export { VaultBackend, VAULT_STAGE_KEY, VAULT_DEFAULT_FIELD, type VaultBackendOptions } from './vault.js';
export { GcpSecretManagerBackend, GCP_STAGE_ALIAS, type GcpSecretManagerOptions } from './gcp-sm.js';
export { AzureKeyVaultBackend, AZURE_STAGE_TAG, type AzureKeyVaultOptions } from './azure-kv.js';
export { OnePasswordBackend, type OnePasswordOptions } from './onepassword.js';
export { DotenvBackend, parseDotenv, type DotenvEntry } from './dotenv.js';
