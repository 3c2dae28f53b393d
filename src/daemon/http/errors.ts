/**
 * The daemon's errors and their one mapping to HTTP (the table in docs/api.md): a status, a code, a
 * message naming what was wrong, whether retrying can help, and `Retry-After` when it can.
 * Messages never carry a secret: they name fields, AWS error names and request ids.
 */
import { NegativeCacheHit, RefreshTooSoon } from '../../cache/credential-cache.js';
import { LoadCancelled } from '../../cache/fetcher.js';
import { UpstreamError, type UpstreamErrorKind } from '../../providers/errors.js';
import { BudgetExceeded } from '../../refresh/budget.js';

export type ApiErrorCode =
  | 'InvalidRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'PayloadTooLarge'
  | 'TooManyRequests'
  | 'UpstreamAccessDenied'
  | 'UpstreamNotFound'
  | 'UpstreamInvalidInput'
  | 'UpstreamPermissionTypeMismatch'
  | 'UpstreamThrottled'
  | 'UpstreamUnavailable'
  | 'UpstreamTimeout'
  | 'InternalError';

const STATUS: Readonly<Record<ApiErrorCode, number>> = {
  InvalidRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  PayloadTooLarge: 413,
  TooManyRequests: 429,
  UpstreamAccessDenied: 403,
  UpstreamNotFound: 404,
  UpstreamInvalidInput: 400,
  UpstreamPermissionTypeMismatch: 409,
  UpstreamThrottled: 503,
  UpstreamUnavailable: 502,
  UpstreamTimeout: 504,
  InternalError: 500,
};

const UPSTREAM_CODES: Readonly<Record<UpstreamErrorKind, ApiErrorCode>> = {
  AccessDenied: 'UpstreamAccessDenied',
  NotFound: 'UpstreamNotFound',
  InvalidInput: 'UpstreamInvalidInput',
  PermissionTypeMismatch: 'UpstreamPermissionTypeMismatch',
  Throttled: 'UpstreamThrottled',
  Unavailable: 'UpstreamUnavailable',
  Timeout: 'UpstreamTimeout',
};

/** Seconds a client should wait before retrying a retryable upstream failure. */
export const RETRY_AFTER_SECONDS: Readonly<Partial<Record<UpstreamErrorKind, number>>> = {
  Throttled: 2,
  Unavailable: 1,
  Timeout: 1,
};

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly options: {
      readonly retryable?: boolean;
      readonly retryAfterSeconds?: number;
      /** For 405: the methods the path answers. */
      readonly allow?: readonly string[];
    } = {},
  ) {
    super(message);
    this.status = STATUS[code];
  }

  get retryable(): boolean {
    return this.options.retryable ?? false;
  }
}

export const invalid = (message: string) => new ApiError('InvalidRequest', message);

/** The HTTP answer for anything a handler threw. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof NegativeCacheHit) {
    return fromUpstream(error.error, Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  }
  if (error instanceof RefreshTooSoon) {
    return new ApiError('TooManyRequests', error.message, {
      retryable: true,
      retryAfterSeconds: Math.max(1, Math.ceil(error.retryAfterMs / 1000)),
    });
  }
  if (error instanceof BudgetExceeded) {
    return new ApiError('UpstreamThrottled', error.message, {
      retryable: true,
      retryAfterSeconds: Math.max(1, Math.ceil(error.retryAfterMs / 1000)),
    });
  }
  if (error instanceof UpstreamError) return fromUpstream(error);
  if (error instanceof LoadCancelled) {
    // Only a client that has hung up is answered this (its answer goes nowhere).
    return new ApiError('UpstreamUnavailable', error.message, {
      retryable: true,
      retryAfterSeconds: 1,
    });
  }
  return new ApiError('InternalError', 'internal error; see the daemon log');
}

function fromUpstream(error: UpstreamError, negativeRetryAfter?: number): ApiError {
  const code = UPSTREAM_CODES[error.kind];
  const requestId = error.requestId ? ` (request id ${error.requestId})` : '';
  const retryAfterSeconds = error.retryable
    ? (RETRY_AFTER_SECONDS[error.kind] ?? 1)
    : negativeRetryAfter;
  return new ApiError(code, `${error.awsName}: ${error.message}${requestId}`, {
    retryable: error.retryable,
    ...(retryAfterSeconds !== undefined && error.retryable && { retryAfterSeconds }),
  });
}

/** The JSON body of an error answer. */
export function errorBody(error: ApiError): string {
  return JSON.stringify({
    error: { code: error.code, message: error.message, retryable: error.retryable },
  });
}

/** Headers of an error answer. */
export function errorHeaders(error: ApiError): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  };
  if (error.options.retryAfterSeconds !== undefined) {
    headers['retry-after'] = String(error.options.retryAfterSeconds);
  }
  if (error.options.allow) headers.allow = error.options.allow.join(', ');
  return headers;
}
