/**
 * Which source of the SDK's default credential chain gave the daemon its AWS identity, in words
 * for the start-up line. Recent SDK v3 providers mark the identity they return with feature
 * flags (`$source`, set by `setCredentialFeature` in `@aws-sdk/core`); the words name the flag's
 * provider and, for the shared config, the profile. Nothing of the identity itself (no key id,
 * no secret) is ever part of the answer.
 */
import type { AwsCredentialIdentity } from '@smithy/types';

/** The sources of the SDK's default chain, in the order it tries them (credential-provider-node). */
export const DEFAULT_CHAIN_SOURCES = [
  'environment variables (AWS_ACCESS_KEY_ID)',
  'SSO, shared config and credentials files, credential_process (profile from AWS_PROFILE, else default)',
  'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE: IRSA)',
  'container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI: EKS Pod Identity, ECS task role)',
  'instance metadata (IMDS; off with AWS_EC2_METADATA_DISABLED)',
] as const;

type Described = (profile: string) => string;

/** From the most specific flag to the least: a profile's assumed role before "profile". */
const BY_FLAG: readonly (readonly [string, Described])[] = [
  [
    'CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN',
    () => 'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)',
  ],
  ['CREDENTIALS_ENV_VARS', () => 'environment variables'],
  ['CREDENTIALS_HTTP', () => 'container credentials endpoint'],
  ['CREDENTIALS_IMDS', () => 'instance metadata'],
  [
    'CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN',
    (p) => `web identity token of shared config profile ${p}`,
  ],
  ['CREDENTIALS_PROFILE_SOURCE_PROFILE', (p) => `role assumed by shared config profile ${p}`],
  ['CREDENTIALS_PROFILE_NAMED_PROVIDER', (p) => `credential_source of shared config profile ${p}`],
  ['CREDENTIALS_PROFILE_PROCESS', (p) => `credential_process of shared config profile ${p}`],
  ['CREDENTIALS_PROFILE_SSO', (p) => `SSO of shared config profile ${p}`],
  ['CREDENTIALS_PROFILE_SSO_LEGACY', (p) => `SSO of shared config profile ${p}`],
  ['CREDENTIALS_PROFILE_LOGIN', (p) => `console login of shared config profile ${p}`],
  ['CREDENTIALS_PROFILE', (p) => `shared config profile ${p}`],
  ['CREDENTIALS_PROCESS', (p) => `credential_process of shared config profile ${p}`],
  ['CREDENTIALS_SSO', (p) => `SSO of shared config profile ${p}`],
  ['CREDENTIALS_SSO_LEGACY', (p) => `SSO of shared config profile ${p}`],
  ['CREDENTIALS_LOGIN', (p) => `console login of shared config profile ${p}`],
  ['CREDENTIALS_CODE', () => 'credentials given by the command line'],
];

/** The words for the source that gave `identity`, by its `$source` flags. */
export function identitySource(
  identity: AwsCredentialIdentity,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const flags = (identity as { $source?: Record<string, string> }).$source ?? {};
  const profile = env.AWS_PROFILE ?? 'default';
  for (const [flag, describe] of BY_FLAG) if (flag in flags) return describe(profile);
  // The remote providers that set no flag: container metadata and instance metadata.
  return env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
    ? 'container credentials endpoint'
    : 'instance metadata';
}

/** The first line of an SDK error's message: its providers' dumps stay out of the logs. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n', 1)[0]?.trim().slice(0, 200) ?? '';
}
