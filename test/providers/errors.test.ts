/** classifyUpstreamError as a table: the SDK's error shapes in, kinds and flags out. */
import assert from 'node:assert/strict';
import { UpstreamError, classifyUpstreamError } from '../../src/providers/errors.js';

const sdkError = (
  name: string,
  status?: number,
  extra: Record<string, unknown> = {},
  message = `${name} happened`,
) =>
  Object.assign(new Error(message), {
    name,
    ...(status !== undefined && { $metadata: { httpStatusCode: status, requestId: 'req-1' } }),
    ...extra,
  });

describe('classifyUpstreamError', () => {
  const table: [string, unknown, string, string][] = [
    [
      'AccessDeniedException',
      sdkError('AccessDeniedException', 403),
      'AccessDenied',
      'AccessDeniedException',
    ],
    [
      'EntityNotFoundException',
      sdkError('EntityNotFoundException', 400),
      'NotFound',
      'EntityNotFoundException',
    ],
    [
      'ResourceNotFoundException',
      sdkError('ResourceNotFoundException', 404),
      'NotFound',
      'ResourceNotFoundException',
    ],
    [
      'InvalidInputException',
      sdkError('InvalidInputException', 400),
      'InvalidInput',
      'InvalidInputException',
    ],
    [
      'ValidationException',
      sdkError('ValidationException', 400),
      'InvalidInput',
      'ValidationException',
    ],
    [
      'PermissionTypeMismatchException',
      sdkError('PermissionTypeMismatchException', 400),
      'PermissionTypeMismatch',
      'PermissionTypeMismatchException',
    ],
    [
      'ThrottlingException at 400',
      sdkError('ThrottlingException', 400),
      'Throttled',
      'ThrottlingException',
    ],
    ['ThrottledException', sdkError('ThrottledException', 429), 'Throttled', 'ThrottledException'],
    [
      'TooManyRequestsException',
      sdkError('TooManyRequestsException', 400),
      'Throttled',
      'TooManyRequestsException',
    ],
    [
      'RequestLimitExceeded',
      sdkError('RequestLimitExceeded', 400),
      'Throttled',
      'RequestLimitExceeded',
    ],
    ['Throttling', sdkError('Throttling', 400), 'Throttled', 'Throttling'],
    ['any name with status 429', sdkError('SomethingElse', 429), 'Throttled', 'SomethingElse'],
    [
      'a generic 400 saying Rate exceeded',
      sdkError('LakeFormationServiceException', 400, {}, 'Rate exceeded'),
      'Throttled',
      'LakeFormationServiceException',
    ],
    [
      'the throttling retry trait',
      sdkError('X', 400, { $retryable: { throttling: true } }),
      'Throttled',
      'X',
    ],
    [
      'OperationTimeoutException',
      sdkError('OperationTimeoutException', 400),
      'Timeout',
      'OperationTimeoutException',
    ],
    ['the SDK request timeout', sdkError('TimeoutError'), 'Timeout', 'Timeout'],
    [
      'InternalServiceException',
      sdkError('InternalServiceException', 500),
      'Unavailable',
      'InternalServiceException',
    ],
    [
      'InternalServerException',
      sdkError('InternalServerException', 500),
      'Unavailable',
      'InternalServerException',
    ],
    ['a 503 of any name', sdkError('ServiceUnavailable', 503), 'Unavailable', 'ServiceUnavailable'],
    [
      'a refused connection',
      sdkError('Error', undefined, { code: 'ECONNREFUSED' }),
      'Unavailable',
      'NetworkError',
    ],
    [
      'a reset connection',
      sdkError('Error', undefined, { code: 'ECONNRESET' }),
      'Unavailable',
      'NetworkError',
    ],
    [
      'an unknown host',
      sdkError('Error', undefined, { code: 'ENOTFOUND' }),
      'Unavailable',
      'NetworkError',
    ],
    [
      'the daemon identity being refused',
      sdkError('UnrecognizedClientException', 403),
      'Unavailable',
      'UnrecognizedClientException',
    ],
    [
      'an expired daemon token',
      sdkError('ExpiredTokenException', 400),
      'Unavailable',
      'ExpiredTokenException',
    ],
    ['something that is not an Error', 'boom', 'Unavailable', 'Error'],
  ];
  for (const [what, error, kind, awsName] of table) {
    it(`${what} → ${kind} (${awsName})`, () => {
      const classified = classifyUpstreamError(error);
      assert.ok(classified instanceof UpstreamError);
      assert.equal(classified.kind, kind);
      assert.equal(classified.awsName, awsName);
      assert.equal(classified.cause, error);
    });
  }

  it('keeps the request id and status, and leaves an UpstreamError as it is', () => {
    const classified = classifyUpstreamError(sdkError('AccessDeniedException', 403));
    assert.equal(classified.requestId, 'req-1');
    assert.equal(classified.httpStatus, 403);
    assert.equal(classifyUpstreamError(classified), classified);
  });

  it('sets the flags the cache reads from the kind alone', () => {
    const flags = (name: string, status: number) => {
      const { retryable, evict, deterministic } = classifyUpstreamError(sdkError(name, status));
      return { retryable, evict, deterministic };
    };
    assert.deepEqual(flags('AccessDeniedException', 403), {
      retryable: false,
      evict: true,
      deterministic: true,
    });
    assert.deepEqual(flags('ValidationException', 400), {
      retryable: false,
      evict: false,
      deterministic: true,
    });
    assert.deepEqual(flags('ThrottlingException', 400), {
      retryable: true,
      evict: false,
      deterministic: false,
    });
    assert.deepEqual(flags('InternalServerException', 500), {
      retryable: true,
      evict: false,
      deterministic: false,
    });
  });
});
