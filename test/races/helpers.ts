/** Shared fakes for the race tests: virtual time, a controllable upstream, the real engine. */
import type { CredentialFetcher, FetchContext } from '../../src/cache/fetcher.js';
import { LoadCancelled } from '../../src/cache/fetcher.js';
import { type CredentialKey, tableKey } from '../../src/cache/key.js';
import type { ManualClock } from '../../src/clock.js';
import { UpstreamError } from '../../src/providers/errors.js';
import type { CredentialProvider, IssuedCredentials, Source } from '../../src/providers/types.js';
import type { Providers } from '../../src/refresh/upstream-load.js';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;

export const settle = async () => {
  for (let i = 0; i < 8; i++) await new Promise((resolve) => setImmediate(resolve));
};

export const table = (name: string): CredentialKey =>
  tableKey({
    tableArn: `arn:aws:glue:us-east-1:123456789012:table/sales/${name}`,
    permissions: ['SELECT'],
    supportedPermissionTypes: ['COLUMN_PERMISSION'],
    durationSeconds: 3600,
  });

export type Mode = 'ok' | 'fail' | 'hang';

/**
 * Fake providers: per table name, answer at once (`ok`), fail (`fail`, Unavailable), or hang
 * until `releaseAll()` (`hang`). Calls are recorded by table name. Like the SDK, a hanging call
 * rejects when its signal aborts.
 */
export function fakeProviders(clock: ManualClock, lifetimeMs = 60 * MINUTE) {
  const calls: string[] = [];
  const modes = new Map<string, Mode>();
  const hanging: (() => void)[] = [];
  const nameOf = (request: unknown) =>
    String((request as { tableArn?: string }).tableArn ?? 'redshift')
      .split('/')
      .pop() ?? '';
  const provider = <R, C>(source: Source, credentials: C): CredentialProvider<R, C> => ({
    source,
    fetch: async (request: R, options): Promise<IssuedCredentials<C>> => {
      const name = nameOf(request);
      calls.push(name);
      const mode = modes.get(name) ?? 'ok';
      if (mode === 'hang') {
        await new Promise<void>((resolve, reject) => {
          hanging.push(resolve);
          options?.signal?.addEventListener('abort', () => reject(new Error('AbortError')), {
            once: true,
          });
        });
      }
      if (mode === 'fail') {
        throw new UpstreamError('Unavailable', 'InternalServiceException', 'down');
      }
      return { credentials, expiration: clock.now() + lifetimeMs };
    },
  });
  const s3 = { accessKeyId: 'ASIA', secretAccessKey: 'secret', sessionToken: 'token' };
  const providers: Providers = {
    lakeformation_table: provider('lakeformation_table', s3),
    lakeformation_partition: provider('lakeformation_partition', s3),
    redshift_serverless: provider('redshift_serverless', { dbUser: 'u', dbPassword: 'p' }),
    lakeformation_location: provider('lakeformation_location', s3),
  };
  return {
    providers,
    calls,
    modes,
    releaseAll: () => {
      for (const release of hanging.splice(0)) release();
    },
  };
}

/**
 * A fetcher for the cache alone: numbered credentials; `hold()` makes calls wait for
 * `release()`; with `ignoreAbort`, a held call answers even after its signal aborted (an answer
 * already on its way, or an SDK sleeping between attempts).
 */
export class HeldUpstream implements CredentialFetcher {
  calls: { key: CredentialKey; context: FetchContext }[] = [];
  lifetimeMs = 60 * MINUTE;
  ignoreAbort = false;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  constructor(private readonly clock: ManualClock) {}
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  async fetch(key: CredentialKey, context: FetchContext): Promise<IssuedCredentials<unknown>> {
    this.calls.push({ key, context });
    const serial = this.calls.length;
    await this.#gate;
    if (context.signal.aborted && !this.ignoreAbort) throw new LoadCancelled('aborted');
    return { credentials: { serial }, expiration: this.clock.now() + this.lifetimeMs };
  }
}
