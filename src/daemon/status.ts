/**
 * `GET /v1/status`: what an operator asks a running daemon — its version, whether it is ready,
 * each configured target's state, time left, next refresh and recent failures, and what the
 * cache holds. Never a credential: no key id, secret, token or password. A failure is named by
 * its AWS error name and a message of our own per kind of failure, never AWS's message text,
 * which can carry ARNs, account ids and principals.
 */
import type { CredentialCache } from '../cache/credential-cache.js';
import type { Clock } from '../clock.js';
import type { UpstreamErrorKind } from '../providers/errors.js';
import type { Source } from '../providers/types.js';
import type { RefreshScheduler } from '../refresh/scheduler.js';
import { VERSION } from '../version.js';
import type { Readiness } from './readiness.js';
import type { Targets } from './targets.js';

export type TargetStateName = 'ready' | 'failing' | 'pending';

export interface TargetStatus {
  readonly name: string;
  readonly source: Source;
  /** `ready`: a servable credential is held; `failing`: its last attempt failed; else `pending`. */
  readonly state: TargetStateName;
  /** Seconds of validity left; null when no credential is held. */
  readonly remainingSeconds: number | null;
  /** Seconds until the next refresh or retry (0: under way); null when none is scheduled. */
  readonly nextRefreshSeconds: number | null;
  readonly consecutiveFailures: number;
  readonly lastError: { readonly code: string; readonly message: string } | null;
}

export interface DaemonStatus {
  readonly version: string;
  readonly ready: boolean;
  readonly targets: readonly TargetStatus[];
  readonly cache: { readonly entries: number; readonly bySource: Record<Source, number> };
}

/** What each kind of upstream failure means, in our words (AWS's text is never shown). */
const FAILURE_MESSAGES: Readonly<Record<UpstreamErrorKind, string>> = {
  AccessDenied: "upstream denied access: the daemon's role lacks the permission, or it was revoked",
  NotFound: 'upstream does not know the resource (table, workgroup or database)',
  InvalidInput: 'upstream refused the request as invalid',
  PermissionTypeMismatch: 'the table does not support the requested permission types',
  Throttled: 'upstream is throttling calls; retrying with backoff',
  Unavailable: 'upstream failed or could not be reached; retrying with backoff',
  Timeout: 'the upstream call timed out; retrying with backoff',
};

export interface StatusSources {
  readonly clock: Clock;
  readonly cache: CredentialCache;
  readonly scheduler: RefreshScheduler;
  readonly readiness: Readiness;
  readonly targets: Targets;
}

/** The daemon's status now. */
export function daemonStatus(sources: StatusSources): DaemonStatus {
  const { clock, cache, scheduler, readiness, targets } = sources;
  const now = clock.now();
  const readyByName = new Map(readiness.targets().map((state) => [state.name, state]));
  const seconds = (ms: number) => Math.max(0, Math.floor(ms / 1000));
  return {
    version: VERSION,
    ready: readiness.ready(),
    targets: targets.all().map(({ name, key }): TargetStatus => {
      const entry = cache.peek(key);
      const failure = scheduler.failures(key);
      const dueAt = scheduler.scheduledAt(key);
      return {
        name,
        source: key.source,
        state: readyByName.get(name)?.ready ? 'ready' : failure ? 'failing' : 'pending',
        remainingSeconds: entry ? seconds(entry.issued.expiration - now) : null,
        nextRefreshSeconds: cache.loading(key)
          ? 0
          : dueAt === undefined
            ? null
            : seconds(dueAt - now),
        consecutiveFailures: failure?.consecutive ?? 0,
        lastError: failure
          ? { code: failure.lastError.awsName, message: FAILURE_MESSAGES[failure.lastError.kind] }
          : null,
      };
    }),
    cache: { entries: cache.size, bySource: cache.countBySource() },
  };
}
