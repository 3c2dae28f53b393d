/**
 * Errors the emulator answers with, in the shape every AWS client parses: an HTTP status,
 * the `x-amzn-errortype` header and a `{"__type", "message"}` body.
 */

/** HTTP status AWS uses for each error name the emulator can produce (from the services' models). */
const STATUS_BY_NAME: Readonly<Record<string, number>> = {
  AccessDeniedException: 403,
  MissingAuthenticationTokenException: 403,
  InvalidSignatureException: 403,
  UnrecognizedClientException: 403,
  IncompleteSignatureException: 400,
  // Lake Formation models these without an httpError trait, so they travel as 400.
  EntityNotFoundException: 400,
  InvalidInputException: 400,
  OperationTimeoutException: 400,
  PermissionTypeMismatchException: 400,
  SerializationException: 400,
  ValidationException: 400,
  ResourceNotFoundException: 404,
  UnknownOperationException: 404,
  ConflictException: 409,
  RequestEntityTooLargeException: 413,
  ThrottledException: 429,
  ThrottlingException: 429,
  TooManyRequestsException: 429,
  InternalServiceException: 500,
  InternalServerException: 500,
  InternalFailure: 500,
  ServiceUnavailableException: 503,
  ServiceUnavailable: 503,
};

/** The status AWS sends with an error of this name; unknown client errors travel as 400. */
export function statusForErrorName(name: string): number {
  const known = STATUS_BY_NAME[name];
  if (known !== undefined) return known;
  return /internal/i.test(name) ? 500 : 400;
}

export class EmulatorError extends Error {
  override readonly name: string;
  readonly status: number;

  constructor(name: string, message: string, status = statusForErrorName(name)) {
    super(message);
    this.name = name;
    this.status = status;
  }
}
