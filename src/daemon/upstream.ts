/**
 * The daemon's upstream: the region, the SDK clients and one instrumented provider per source.
 * AWS as the configuration and the SDK's environment say, or, when the command line hands one
 * in, a local endpoint standing in for both services (the built-in emulator): the daemon only
 * learns its URL, never its code.
 */
import type { Clock } from '../clock.js';
import { type Config, ConfigError } from '../config/config.js';
import { type UpstreamClients, createUpstreamClients } from '../providers/clients.js';
import { firstLine, identitySource } from '../providers/identity.js';
import { type UpstreamCall, instrumented } from '../providers/instrumented.js';
import {
  createLocationCredentialsProvider,
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
  /**
   * What stands behind it, for the start-up line: the database the emulator installs Redshift
   * logins in, as a URL without its password. Absent when there is none.
   */
  readonly database?: string | undefined;
  /** The region used when neither the configuration nor the environment names one. */
  readonly region: string;
  /** What the SDK clients sign with when the environment holds no AWS identity. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** For the start-up line: where calls go, and who signs them. */
export interface UpstreamDescription {
  /** `aws`, or the local endpoint's kind (`emulator`). */
  readonly kind: string;
  /** The local endpoint's URL. */
  readonly url?: string;
  /** The local endpoint's database (its URL, never its password), when it has one. */
  readonly database?: string;
  readonly region: string;
  /** Each service's endpoint and where it was set (`SDK default` when nowhere). */
  readonly endpoints: { readonly lakeFormation: string; readonly redshiftServerless: string };
  /** The source of the SDK's default chain that gave the daemon its identity. */
  readonly identity?: string;
  /** Why no source gave one: the first line of the SDK's error. */
  readonly identityError?: string;
}

export interface Upstream {
  readonly providers: Providers;
  /** Where calls go and which identity signs them (resolving it, once, as the first call does). */
  describe(): Promise<UpstreamDescription>;
  /** Closes the SDK clients' sockets. */
  destroy(): void;
}

/** The environment variables the SDK reads a service's endpoint from, the specific one first. */
const ENDPOINT_VARIABLES = {
  lakeFormation: ['AWS_ENDPOINT_URL_LAKEFORMATION', 'AWS_ENDPOINT_URL'],
  redshiftServerless: ['AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS', 'AWS_ENDPOINT_URL'],
} as const;

/** Where `service`'s calls go, and what set it: the local endpoint, the config, the SDK's variables. */
function endpointOf(
  service: keyof typeof ENDPOINT_VARIABLES,
  configured: string | undefined,
  env: NodeJS.ProcessEnv,
  local: LocalUpstream | undefined,
): string {
  if (local) return `${local.url} (built-in ${local.kind})`;
  if (configured !== undefined) return `${configured} (config upstream.${service}Endpoint)`;
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS !== 'true') {
    for (const variable of ENDPOINT_VARIABLES[service]) {
      const value = env[variable];
      if (value) return `${value} (${variable})`;
    }
  }
  return 'SDK default';
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
      lakeformation_location: instrumented(
        createLocationCredentialsProvider(clients.lakeFormation, lakeFormation),
        clock,
        observe,
      ),
    },
    async describe() {
      const where = {
        ...(local
          ? {
              kind: local.kind,
              url: local.url,
              ...(local.database !== undefined && { database: local.database }),
            }
          : { kind: 'aws' }),
        region,
        endpoints: {
          lakeFormation: endpointOf(
            'lakeFormation',
            config.upstream.lakeFormationEndpoint,
            env,
            local,
          ),
          redshiftServerless: endpointOf(
            'redshiftServerless',
            config.upstream.redshiftServerlessEndpoint,
            env,
            local,
          ),
        },
      };
      if (local && !ownCredentials) {
        return { ...where, identity: `placeholder credentials (built-in ${local.kind})` };
      }
      // Through the client the targets use first: it is made (and its identity resolved) anyway.
      const service =
        config.targets[0]?.source === 'redshift_serverless'
          ? 'redshiftServerless'
          : 'lakeFormation';
      try {
        return { ...where, identity: identitySource(await clients.identity(service), env) };
      } catch (error) {
        return { ...where, identityError: firstLine(error) };
      }
    },
    destroy: () => clients.destroy(),
  };
}
