/**
 * Upstream failures, classified once. Every error an AWS call can end with becomes an
 * `UpstreamError` whose flags the cache and refresher read (`retryable`, `evict`,
 * `deterministic`), never its message.
 */
import { isThrottlingError, isTransientError } from '@smithy/core/retry';

export const UPSTREAM_ERROR_KINDS = [
  'AccessDenied',
  'NotFound',
  'InvalidInput',
  'PermissionTypeMismatch',
  'Throttled',
  'Unavailable',
  'Timeout',
] as const;
export type UpstreamErrorKind = (typeof UPSTREAM_ERROR_KINDS)[number];

interface KindTraits {
  /** Worth trying again later: the same call may succeed. */
  readonly retryable: boolean;
  /** On refresh, drop the cached credential: access was revoked or the resource is gone. */
  readonly evict: boolean;
  /** The same request will fail the same way: safe to cache the failure briefly. */
  readonly deterministic: boolean;
}

export const KIND_TRAITS: Readonly<Record<UpstreamErrorKind, KindTraits>> = {
  AccessDenied: { retryable: false, evict: true, deterministic: true },
  NotFound: { retryable: false, evict: true, deterministic: true },
  InvalidInput: { retryable: false, evict: false, deterministic: true },
  PermissionTypeMismatch: { retryable: false, evict: false, deterministic: true },
  Throttled: { retryable: true, evict: false, deterministic: false },
  Unavailable: { retryable: true, evict: false, deterministic: false },
  Timeout: { retryable: true, evict: false, deterministic: false },
};

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly retryable: boolean;
  readonly evict: boolean;
  readonly deterministic: boolean;

  constructor(
    readonly kind: UpstreamErrorKind,
    /** The AWS error name, or `Timeout` / `NetworkError` / `InvalidResponse` for failures without one. */
    readonly awsName: string,
    message: string,
    readonly requestId?: string,
    readonly httpStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    ({
      retryable: this.retryable,
      evict: this.evict,
      deterministic: this.deterministic,
    } = KIND_TRAITS[kind]);
  }
}

const ACCESS_DENIED = new Set(['AccessDeniedException', 'AccessDenied']);
const NOT_FOUND = new Set(['EntityNotFoundException', 'ResourceNotFoundException']);
const INVALID_INPUT = new Set([
  'InvalidInputException',
  'ValidationException',
  'SerializationException',
]);
const TIMEOUT = new Set([
  'OperationTimeoutException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
/** Node socket error codes that mean the request never got an answer. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** What the SDK's own classifiers take. */
type SdkError = Parameters<typeof isThrottlingError>[0];

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $retryable?: { throttling?: boolean };
}

/** `call`, with any rejection classified into an `UpstreamError`. */
export function classified<T>(call: Promise<T>): Promise<T> {
  return call.catch((error: unknown) => {
    throw classifyUpstreamError(error);
  });
}

/**
 * Sorts any rejection of an SDK call into an `UpstreamError`. Throttling is recognised as the
 * SDKs do (name in their throttling set, status 429, throttling trait) and, because Lake
 * Formation models no throttling error for these calls, by the message `Rate exceeded`.
 * Errors about the daemon's own identity (unrecognised or expired keys, bad signature) are
 * `Unavailable`, not `AccessDenied`: they say nothing about the resource, so they must not evict.
 */
export function classifyUpstreamError(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const shape: SdkErrorShape = typeof error === 'object' && error !== null ? error : {};
  const name = typeof shape.name === 'string' && shape.name !== '' ? shape.name : 'Error';
  const message = typeof shape.message === 'string' ? shape.message : String(error);
  const code = typeof shape.code === 'string' ? shape.code : undefined;
  const status = shape.$metadata?.httpStatusCode;
  const requestId = shape.$metadata?.requestId;
  const make = (kind: UpstreamErrorKind, awsName = name) =>
    new UpstreamError(kind, awsName, message, requestId, status, { cause: error });

  if (ACCESS_DENIED.has(name)) return make('AccessDenied');
  if (NOT_FOUND.has(name)) return make('NotFound');
  if (name === 'PermissionTypeMismatchException') return make('PermissionTypeMismatch');
  if (INVALID_INPUT.has(name)) return make('InvalidInput');
  if (isThrottlingError(shape as SdkError) || /rate exceeded/i.test(message))
    return make('Throttled');
  if (TIMEOUT.has(name))
    return make('Timeout', name === 'OperationTimeoutException' ? name : 'Timeout');
  if (status === undefined && code !== undefined && NETWORK_CODES.has(code)) {
    return make('Unavailable', 'NetworkError');
  }
  if (status !== undefined && status >= 500) return make('Unavailable');
  if (isTransientError(shape as SdkError))
    return make('Unavailable', status === undefined ? 'NetworkError' : name);
  return make('Unavailable');
}
