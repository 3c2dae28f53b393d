/**
 * The AWS SDK v3 clients the providers call, configured once: region, optional endpoint per
 * service (otherwise the SDK's own resolution, which honours `AWS_ENDPOINT_URL_LAKEFORMATION`
 * and `AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS`), credentials from the SDK's default chain unless
 * given, per-attempt timeouts and SDK retry settings.
 *
 * Each client is made on first use, and its SDK package imported then: a package costs a few
 * MB resident once loaded, which a daemon that never calls the service does not need to carry.
 * Only upstream calls wait for it; cache hits never reach a client.
 */
import type * as LakeFormation from '@aws-sdk/client-lakeformation';
import type * as RedshiftServerless from '@aws-sdk/client-redshift-serverless';
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

/** An SDK package and the client made from it. */
export interface Sdk<M, C> {
  readonly sdk: M;
  readonly client: C;
}

/** A client made, with its package imported, on the first `get`. */
export interface LazyClient<M, C> {
  /** The package and the client; a failed import is tried again by the next call. */
  get(): Promise<Sdk<M, C>>;
}

export type LakeFormationSdk = LazyClient<typeof LakeFormation, LakeFormation.LakeFormationClient>;
export type RedshiftServerlessSdk = LazyClient<
  typeof RedshiftServerless,
  RedshiftServerless.RedshiftServerlessClient
>;

export interface UpstreamClients {
  readonly lakeFormation: LakeFormationSdk;
  readonly redshiftServerless: RedshiftServerlessSdk;
  /**
   * The identity the calls of `service`'s client sign with, resolved through that client's own
   * (memoized) credential provider: resolving it here costs no more than the first call does.
   */
  identity(service: 'lakeFormation' | 'redshiftServerless'): Promise<AwsCredentialIdentity>;
  /** Closes the sockets of the clients made; a client made afterwards is closed at once. */
  destroy(): void;
}

interface Destroyable {
  destroy(): void;
}

function lazyClient<M, C extends Destroyable>(
  load: () => Promise<M>,
  make: (sdk: M) => C,
): LazyClient<M, C> & Destroyable {
  let made: Promise<Sdk<M, C>> | undefined;
  let client: C | undefined;
  let destroyed = false;
  return {
    get() {
      made ??= load().then(
        (sdk) => {
          client = make(sdk);
          if (destroyed) client.destroy();
          return { sdk, client };
        },
        (error: unknown) => {
          made = undefined;
          throw error;
        },
      );
      return made;
    },
    destroy() {
      destroyed = true;
      client?.destroy();
    },
  };
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
  const lakeFormation = lazyClient(
    () => import('@aws-sdk/client-lakeformation'),
    (sdk) =>
      new sdk.LakeFormationClient({
        ...common,
        ...(options.lakeFormationEndpoint !== undefined && {
          endpoint: options.lakeFormationEndpoint,
        }),
      }),
  );
  const redshiftServerless = lazyClient(
    () => import('@aws-sdk/client-redshift-serverless'),
    (sdk) =>
      new sdk.RedshiftServerlessClient({
        ...common,
        ...(options.redshiftServerlessEndpoint !== undefined && {
          endpoint: options.redshiftServerlessEndpoint,
        }),
      }),
  );
  return {
    lakeFormation,
    redshiftServerless,
    async identity(service) {
      const { client } = await (
        service === 'lakeFormation' ? lakeFormation : redshiftServerless
      ).get();
      return client.config.credentials();
    },
    destroy() {
      lakeFormation.destroy();
      redshiftServerless.destroy();
    },
  };
}
