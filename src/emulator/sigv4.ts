/**
 * SigV4 for the emulator: every request must carry an `AWS4-HMAC-SHA256` Authorization header
 * scoped to the right service; when the emulator knows the secret of the signing key (keys it
 * was started with, or a credential it issued itself) and verification is on, the signature is
 * recomputed with the SDK's own signer and compared.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { EmulatorError } from './errors.js';

export interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;_.-]+)\s*,\s*Signature=([0-9a-f]{64})$/;

/** Reads the Authorization header, or throws the error AWS answers an unsigned request with. */
export function parseAuthorization(
  header: string | undefined,
  expectedService: string,
  missingStatus: number,
): ParsedAuthorization {
  if (header === undefined || header === '') {
    throw new EmulatorError(
      'MissingAuthenticationTokenException',
      'Missing Authentication Token',
      missingStatus,
    );
  }
  const match = AUTHORIZATION.exec(header.trim());
  if (!match) {
    throw new EmulatorError(
      'IncompleteSignatureException',
      'Authorization header requires Credential, SignedHeaders and Signature of an AWS4-HMAC-SHA256 signature',
    );
  }
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (service !== expectedService) {
    throw new EmulatorError(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${expectedService}'.`,
    );
  }
  return {
    accessKeyId,
    date,
    region,
    service,
    signedHeaders: signedHeaders.split(';'),
    signature,
  };
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** A `Checksum` over Node's crypto, in the shape the Smithy signer takes. */
class NodeSha256 {
  readonly #hash;
  constructor(secret?: SourceData) {
    this.#hash =
      secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
  reset(): void {
    throw new Error('NodeSha256 is single-use');
  }
}

export interface SignedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Hashed only when the request has no `x-amz-content-sha256` header naming its hash. */
  readonly body: string | Uint8Array;
}

export interface VerifyOptions {
  /**
   * Whether the path is URI-encoded again for the canonical request: true for every service but
   * S3, whose canonical path is the request's path as sent.
   */
  readonly uriEscapePath?: boolean;
}

/** Allowed difference between the request's X-Amz-Date and the emulator's clock, as in AWS. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/**
 * Recomputes the signature of `request` with `secretAccessKey` and throws AWS's
 * `InvalidSignatureException` when it differs or the request is too old or too new.
 */
export async function verifySignature(
  request: SignedRequest,
  auth: ParsedAuthorization,
  secretAccessKey: string,
  nowMs: number,
  options: VerifyOptions = {},
): Promise<void> {
  const amzDate = headerValue(request.headers['x-amz-date']);
  const signingDate = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (signingDate === undefined) {
    throw new EmulatorError(
      'IncompleteSignatureException',
      'X-Amz-Date header is missing or malformed',
    );
  }
  if (Math.abs(signingDate.getTime() - nowMs) > MAX_CLOCK_SKEW_MS) {
    throw new EmulatorError(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is now earlier or later than the allowed 15 minutes`,
    );
  }
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = headerValue(request.headers[name]);
    if (value !== undefined) headers[name] = value;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey },
    region: auth.region,
    service: auth.service,
    sha256: NodeSha256,
    applyChecksum: false,
    uriEscapePath: options.uriEscapePath ?? true,
  });
  const [pathname = '/', search = ''] = request.path.split('?', 2);
  const query: Record<string, string> = Object.fromEntries(new URLSearchParams(search));
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: headers.host ?? '',
      path: pathname,
      query,
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(auth.signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
  const matches =
    expected.length === auth.signature.length &&
    timingSafeEqual(Buffer.from(expected), Buffer.from(auth.signature));
  if (!matches) {
    throw new EmulatorError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** `20261123T071429Z` → Date. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}
