/**
 * The daemon's upstream: the region, the SDK clients and one instrumented provider per source.
 * AWS as the configuration and the SDK's environment say, or, when the command line hands one
 * in, a local endpoint standing in for both services (the built-in emulator): the daemon only
 * learns its URL, never its code.
 */
import type { Clock } from '../clock.js';
import { type Config, ConfigError } from '../config/config.js';
import { type UpstreamClients, createUpstreamClients } from '../providers/clients.js';
import { type UpstreamCall, instrumented } from '../providers/instrumented.js';
import {
  createPartitionCredentialsProvider,
  createTableCredentialsProvider,
} from '../providers/lakeformation.js';
import { createRedshiftCredentialsProvider } from '../providers/redshift-serverless.js';
import type { Providers } from '../refresh/upstream-load.js';

/** A local endpoint that answers for both services, handed in by the command line. */
export interface LocalUpstream {
  /** What the start-up line calls it (`emulator`). */
  readonly kind: string;
  /** `http://127.0.0.1:<port>`: both services' endpoint. */
  readonly url: string;
  /** The region used when neither the configuration nor the environment names one. */
  readonly region: string;
  /** What the SDK clients sign with when the environment holds no AWS identity. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface Upstream {
  readonly providers: Providers;
  /** For the start-up line: where calls go. */
  readonly description: { readonly kind: string; readonly url?: string; readonly region: string };
  /** Closes the SDK clients' sockets. */
  destroy(): void;
}

export function createUpstream(
  config: Config,
  options: {
    readonly clock: Clock;
    readonly env: NodeJS.ProcessEnv;
    readonly local: LocalUpstream | undefined;
    readonly observe: (call: UpstreamCall) => void;
  },
): Upstream {
  const { clock, env, local, observe } = options;
  // `preflight` resolved the region from the environment and the AWS profile into the config.
  const region = config.upstream.region ?? local?.region;
  if (region === undefined) {
    throw new ConfigError(
      ['upstream.region: required (or set AWS_REGION) when not running against the emulator'],
      config.origin,
    );
  }
  const ownCredentials = env.AWS_ACCESS_KEY_ID !== undefined || env.AWS_PROFILE !== undefined;
  const endpoints = local
    ? { lakeFormationEndpoint: local.url, redshiftServerlessEndpoint: local.url }
    : {
        ...(config.upstream.lakeFormationEndpoint !== undefined && {
          lakeFormationEndpoint: config.upstream.lakeFormationEndpoint,
        }),
        ...(config.upstream.redshiftServerlessEndpoint !== undefined && {
          redshiftServerlessEndpoint: config.upstream.redshiftServerlessEndpoint,
        }),
      };
  const clients: UpstreamClients = createUpstreamClients({
    region,
    maxAttempts: config.upstream.maxAttempts,
    attemptTimeoutMs: config.upstream.timeoutSeconds * 1000,
    ...endpoints,
    ...(local && !ownCredentials && { credentials: local.credentials }),
  });
  const lakeFormation = { auditContext: config.upstream.auditContext };
  return {
    providers: {
      lakeformation_table: instrumented(
        createTableCredentialsProvider(clients.lakeFormation, lakeFormation),
        clock,
        observe,
      ),
      lakeformation_partition: instrumented(
        createPartitionCredentialsProvider(clients.lakeFormation, lakeFormation),
        clock,
        observe,
      ),
      redshift_serverless: instrumented(
        createRedshiftCredentialsProvider(clients.redshiftServerless),
        clock,
        observe,
      ),
    },
    description: local ? { kind: local.kind, url: local.url, region } : { kind: 'aws', region },
    destroy: () => clients.destroy(),
  };
}
