/**
 * Providers that report every upstream call: its source, duration and outcome (the AWS error
 * name on failure). The observer decides what to do with it (metrics, a log line); nothing of
 * the credential itself is passed on.
 */
import type { Clock } from '../clock.js';
import { classifyUpstreamError, type UpstreamError } from './errors.js';
import type { CredentialProvider, Source } from './types.js';

export interface UpstreamCall {
  readonly source: Source;
  readonly seconds: number;
  /** Absent on success. */
  readonly error?: UpstreamError;
}

export function instrumented<R, C>(
  provider: CredentialProvider<R, C>,
  clock: Clock,
  observe: (call: UpstreamCall) => void,
): CredentialProvider<R, C> {
  return {
    source: provider.source,
    async fetch(request, options) {
      const started = clock.monotonic();
      try {
        const issued = await provider.fetch(request, options);
        observe({ source: provider.source, seconds: (clock.monotonic() - started) / 1000 });
        return issued;
      } catch (rejection) {
        const error = classifyUpstreamError(rejection);
        observe({ source: provider.source, seconds: (clock.monotonic() - started) / 1000, error });
        throw error;
      }
    },
  };
}
