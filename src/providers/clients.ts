/**
 * The AWS SDK v3 clients the providers call, configured once: region, optional endpoint per
 * service (otherwise the SDK's own resolution, which honours `AWS_ENDPOINT_URL_LAKEFORMATION`
 * and `AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS`), credentials from the SDK's default chain unless
 * given, per-attempt timeouts and SDK retry settings.
 */
import { LakeFormationClient } from '@aws-sdk/client-lakeformation';
import { RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** Attempts per call, the first included (the SDK's standard retry mode). */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** How long one attempt may wait for a connection. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** How long one attempt may wait for its answer. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000;

export interface UpstreamClientOptions {
  readonly region: string;
  /** Endpoint of Lake Formation; absent: the SDK's resolution. */
  readonly lakeFormationEndpoint?: string;
  /** Endpoint of Redshift Serverless; absent: the SDK's resolution. */
  readonly redshiftServerlessEndpoint?: string;
  /** The daemon's own identity; absent: the SDK's default provider chain. */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly maxAttempts?: number;
  readonly connectTimeoutMs?: number;
  readonly attemptTimeoutMs?: number;
}

export interface UpstreamClients {
  readonly lakeFormation: LakeFormationClient;
  readonly redshiftServerless: RedshiftServerlessClient;
  /** Closes the clients' sockets. */
  destroy(): void;
}

export function createUpstreamClients(options: UpstreamClientOptions): UpstreamClients {
  const common = {
    region: options.region,
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      requestTimeout: options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
      // Without this the Smithy handler only logs a warning when requestTimeout passes and
      // keeps waiting: a hung upstream would hold the call forever.
      throwOnRequestTimeout: true,
    },
  };
  const lakeFormation = new LakeFormationClient({
    ...common,
    ...(options.lakeFormationEndpoint !== undefined && { endpoint: options.lakeFormationEndpoint }),
  });
  const redshiftServerless = new RedshiftServerlessClient({
    ...common,
    ...(options.redshiftServerlessEndpoint !== undefined && {
      endpoint: options.redshiftServerlessEndpoint,
    }),
  });
  return {
    lakeFormation,
    redshiftServerless,
    destroy() {
      lakeFormation.destroy();
      redshiftServerless.destroy();
    },
  };
}
