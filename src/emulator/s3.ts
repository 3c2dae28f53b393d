/**
 * The S3 data plane, path style: `GET`/`HEAD`/`PUT`/`DELETE /{bucket}/{key}` and
 * `GET /{bucket}?list-type=2`. Every request is signed (SigV4, service `s3`, Authorization
 * header) with a Lake Formation credential the emulator issued, carries its session token, is
 * unexpired, and touches only what the credential reaches (`reachOf`). Errors are S3's XML.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { EmulatorError } from './errors.js';
import { type CredentialReach, covers, reachOf } from './locations.js';
import { ObjectLimitError, type StoredObject } from './objects.js';
import { type ParsedAuthorization, parseAuthorization, verifySignature } from './sigv4.js';
import type { EmulatorState, IssuedCredential } from './state.js';

/** A bucket name as S3 allows it: 3–63 lowercase letters, digits, dots and hyphens. */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Longest object key, in bytes, as S3 allows. */
export const MAX_KEY_BYTES = 1024;

/** Most keys one ListObjectsV2 page answers, S3's own cap. */
const MAX_LIST_KEYS = 1000;

/** Chunk headers and trailers an aws-chunked body may add to its object's bytes. */
const CHUNKED_OVERHEAD_BYTES = 1024 * 1024;

export interface S3Context {
  readonly clock: Clock;
  readonly state: EmulatorState;
}

/** An S3 error: its code, status and, where S3 names them, the key or bucket. */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const accessDenied = (message = 'Access Denied') => new S3Error('AccessDenied', 403, message);

/** Whether a request is for the S3 data plane: an S3 method on a path naming a bucket. */
export function isS3Request(method: string, url: string): boolean {
  if (!['GET', 'HEAD', 'PUT', 'DELETE'].includes(method)) return false;
  const [pathname = ''] = url.split('?', 1);
  const [, bucket = ''] = pathname.split('/');
  return BUCKET_NAME.test(bucket);
}

interface S3Request {
  readonly method: string;
  readonly bucket: string;
  /** Decoded key; '' for a bucket request. */
  readonly key: string;
  readonly query: URLSearchParams;
}

function parseRequest(req: IncomingMessage): S3Request {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const pathname = queryAt < 0 ? url : url.slice(0, queryAt);
  const query = new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1));
  const slash = pathname.indexOf('/', 1);
  const bucket = slash < 0 ? pathname.slice(1) : pathname.slice(1, slash);
  let key: string;
  try {
    key = slash < 0 ? '' : decodeURIComponent(pathname.slice(slash + 1));
  } catch {
    throw new S3Error('InvalidURI', 400, "Couldn't parse the specified URI.");
  }
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 400, 'Your key is too long');
  }
  return { method: req.method ?? 'GET', bucket, key, query };
}

export async function handleS3(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: S3Context,
): Promise<void> {
  let request: S3Request | undefined;
  try {
    request = parseRequest(req);
    const { method, bucket, key } = request;
    if (key === '' && !(method === 'GET' && request.query.get('list-type') === '2')) {
      throw new S3Error(
        'NotImplemented',
        501,
        'The emulator serves GetObject, HeadObject, PutObject, DeleteObject and ListObjectsV2 (list-type=2) only',
      );
    }
    if (method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined) {
      throw new S3Error('NotImplemented', 501, 'CopyObject is not emulated');
    }
    const issued = await authenticate(req, ctx);
    const reach = reachOf(issued) as CredentialReach;
    const target = `s3://${bucket}/${key === '' ? (request.query.get('prefix') ?? '') : key}`;
    if (!reach.locations.some((location) => covers(location, target))) {
      throw accessDenied(
        `Access Denied: ${target.slice(0, 300)} is outside the credential's scope`,
      );
    }
    if ((method === 'PUT' || method === 'DELETE') && !reach.write) {
      throw accessDenied('Access Denied: the credential is read-only (writes need READWRITE)');
    }
    switch (method) {
      case 'GET':
        if (key === '') return listObjects(res, request, reach, ctx);
        return getObject(req, res, request, ctx, true);
      case 'HEAD':
        return getObject(req, res, request, ctx, false);
      case 'PUT':
        return await putObject(req, res, request, ctx);
      case 'DELETE':
        req.resume();
        ctx.state.objects.delete(bucket, key);
        writeS3(res, 204, {});
        return;
    }
  } catch (error) {
    if (!(error instanceof S3Error)) throw error;
    // A body not read yet is not read at all: the connection closes after the answer.
    if (req.method === 'PUT' && !req.readableEnded) res.setHeader('connection', 'close');
    else req.resume();
    const extra = { ...error.extra };
    if (request?.key && error.code === 'NoSuchKey') extra.Key = request.key;
    writeS3Error(res, error, req.method === 'HEAD', extra);
  }
}

const PAYLOAD_HASHES = [
  'UNSIGNED-PAYLOAD',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
];

/** The issued credential that signed the request, once signature, token and expiry hold. */
async function authenticate(req: IncomingMessage, ctx: S3Context): Promise<IssuedCredential> {
  const header = one(req.headers.authorization);
  if (header === undefined || header === '') {
    const presigned = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').has(
      'X-Amz-Algorithm',
    );
    throw accessDenied(
      presigned
        ? 'Access Denied: the emulator accepts Authorization-header signatures only, not presigned URLs'
        : 'Access Denied: the request is not signed',
    );
  }
  let auth: ParsedAuthorization;
  try {
    auth = parseAuthorization(header, 's3', 400);
  } catch (error) {
    if (!(error instanceof EmulatorError)) throw error;
    throw new S3Error('AuthorizationHeaderMalformed', 400, error.message);
  }
  const issued = ctx.state.lookup(auth.accessKeyId);
  const secret = issued?.secretAccessKey;
  if (!issued || secret === undefined || !reachOf(issued)) {
    throw new S3Error(
      'InvalidAccessKeyId',
      403,
      'The AWS Access Key Id you provided does not exist in our records.',
      { AWSAccessKeyId: auth.accessKeyId },
    );
  }
  const token = one(req.headers['x-amz-security-token']) ?? '';
  const expected = issued.sessionToken ?? '';
  if (
    token.length !== expected.length ||
    !timingSafeEqual(Buffer.from(token), Buffer.from(expected))
  ) {
    throw new S3Error('InvalidToken', 400, 'The provided token is malformed or otherwise invalid.');
  }
  const now = ctx.clock.now();
  if (issued.expiration <= now) {
    throw new S3Error('ExpiredToken', 400, 'The provided token has expired.');
  }
  const payloadHash = one(req.headers['x-amz-content-sha256']);
  if (payloadHash === undefined) {
    throw new S3Error(
      'InvalidRequest',
      400,
      'Missing required header for this request: x-amz-content-sha256',
    );
  }
  if (!PAYLOAD_HASHES.includes(payloadHash) && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    throw new S3Error(
      'InvalidArgument',
      400,
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) or a valid sha256 value.',
    );
  }
  try {
    await verifySignature(
      { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: '' },
      auth,
      secret,
      now,
      { uriEscapePath: false },
    );
  } catch (error) {
    if (!(error instanceof EmulatorError)) throw error;
    if (error.name === 'IncompleteSignatureException') throw accessDenied(error.message);
    if (error.message.startsWith('Signature expired')) {
      throw new S3Error(
        'RequestTimeTooSkewed',
        403,
        'The difference between the request time and the current time is too large.',
      );
    }
    throw new S3Error(
      'SignatureDoesNotMatch',
      403,
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
  issued.signedCalls += 1;
  return issued;
}

function getObject(
  req: IncomingMessage,
  res: ServerResponse,
  request: S3Request,
  ctx: S3Context,
  withBody: boolean,
): void {
  req.resume();
  const object = ctx.state.objects.get(request.bucket, request.key);
  if (!object) throw new S3Error('NoSuchKey', 404, 'The specified key does not exist.');
  const range = parseRange(one(req.headers.range), object.body.length);
  const body = range ? object.body.subarray(range.start, range.end + 1) : object.body;
  writeS3(
    res,
    range ? 206 : 200,
    {
      ...objectHeaders(object),
      'content-length': String(body.length),
      ...(range && {
        'content-range': `bytes ${range.start}-${range.end}/${object.body.length}`,
      }),
    },
    withBody ? body : undefined,
  );
}

function objectHeaders(object: StoredObject): Record<string, string> {
  return {
    'content-type': object.contentType,
    etag: object.etag,
    'last-modified': new Date(object.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
  };
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; others are ignored, as S3 ignores them. */
function parseRange(header: string | undefined, size: number) {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) {
    throw new S3Error('InvalidRange', 416, 'The requested range is not satisfiable', {
      RangeRequested: header ?? '',
    });
  }
  return { start, end };
}

async function putObject(
  req: IncomingMessage,
  res: ServerResponse,
  request: S3Request,
  ctx: S3Context,
): Promise<void> {
  const { maxObjectBytes } = ctx.state.objects.limits;
  const declared = Number(
    one(req.headers['x-amz-decoded-content-length']) ?? one(req.headers['content-length']) ?? 0,
  );
  if (declared > maxObjectBytes) throw entityTooLarge(maxObjectBytes);
  const raw = await readBytes(req, maxObjectBytes + CHUNKED_OVERHEAD_BYTES);
  if (raw === undefined) throw entityTooLarge(maxObjectBytes);
  const payloadHash = one(req.headers['x-amz-content-sha256']) ?? '';
  let body = raw;
  if (payloadHash.startsWith('STREAMING-')) {
    body = decodeAwsChunked(raw);
    const decodedLength = one(req.headers['x-amz-decoded-content-length']);
    if (decodedLength !== undefined && Number(decodedLength) !== body.length) {
      throw new S3Error(
        'IncompleteBody',
        400,
        'You did not provide the number of bytes specified by the x-amz-decoded-content-length header.',
      );
    }
  } else if (payloadHash !== 'UNSIGNED-PAYLOAD') {
    const actual = createHash('sha256').update(raw).digest('hex');
    if (actual !== payloadHash) {
      throw new S3Error(
        'XAmzContentSHA256Mismatch',
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        { ClientComputedContentSHA256: payloadHash, S3ComputedContentSHA256: actual },
      );
    }
  }
  const stored = storeObject(
    ctx.state,
    request.bucket,
    request.key,
    body,
    one(req.headers['content-type']),
    ctx.clock.now(),
  );
  writeS3(res, 200, { etag: stored.etag });
}

/** Stores an object, or answers the limit it would pass as an S3 error. */
export function storeObject(
  state: EmulatorState,
  bucket: string,
  key: string,
  body: Buffer,
  contentType: string | undefined,
  nowMs: number,
): StoredObject {
  try {
    return state.objects.put(bucket, key, body, contentType ?? 'binary/octet-stream', nowMs);
  } catch (error) {
    if (!(error instanceof ObjectLimitError)) throw error;
    if (error.limit === 'object-size') throw entityTooLarge(state.objects.limits.maxObjectBytes);
    // No S3 error means "this store is full"; a 400 is not retried by the SDKs.
    throw new S3Error('EmulatorStorageFull', 400, `Object refused: ${error.message}`);
  }
}

const entityTooLarge = (max: number) =>
  new S3Error(
    'EntityTooLarge',
    400,
    `Your proposed upload exceeds the maximum allowed size (the emulator's limit is ${max} bytes)`,
    { MaxSizeAllowed: String(max) },
  );

/**
 * The payload of an aws-chunked body: `<hex size>[;chunk-signature=…]\r\n<bytes>\r\n` chunks up
 * to a zero-size one, then optional trailers (checksums), which are not verified.
 */
export function decodeAwsChunked(raw: Buffer): Buffer {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) throw incompleteChunks();
    const sizeText = raw.toString('latin1', at, lineEnd).split(';', 1)[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw incompleteChunks();
    const size = parseInt(sizeText, 16);
    at = lineEnd + 2;
    if (size === 0) return Buffer.concat(chunks);
    if (at + size + 2 > raw.length || raw.toString('latin1', at + size, at + size + 2) !== '\r\n') {
      throw incompleteChunks();
    }
    chunks.push(raw.subarray(at, at + size));
    at += size + 2;
  }
}

const incompleteChunks = () =>
  new S3Error('IncompleteBody', 400, 'The aws-chunked request body is malformed or truncated.');

function listObjects(
  res: ServerResponse,
  request: S3Request,
  reach: CredentialReach,
  ctx: S3Context,
): void {
  const { bucket, query } = request;
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? undefined;
  const maxKeysText = query.get('max-keys');
  const maxKeys = maxKeysText === null ? MAX_LIST_KEYS : Number(maxKeysText);
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 0) {
    throw new S3Error(
      'InvalidArgument',
      400,
      'Provided max-keys not an integer or within integer range',
      {
        ArgumentName: 'max-keys',
      },
    );
  }
  const token = query.get('continuation-token');
  const startAfter = query.get('start-after') ?? undefined;
  let after = startAfter;
  if (token !== null) {
    after = Buffer.from(token, 'base64url').toString('utf8');
    if (token === '' || Buffer.from(after).toString('base64url') !== token) {
      throw new S3Error('InvalidArgument', 400, 'The continuation token provided is incorrect', {
        ArgumentName: 'continuation-token',
      });
    }
  }
  const urlEncoded = query.get('encoding-type') === 'url';
  const text = (value: string) =>
    xml(urlEncoded ? encodeURIComponent(value).replace(/%2F/g, '/') : value);
  const page = ctx.state.objects.list({
    bucket,
    prefix,
    ...(delimiter !== undefined && { delimiter }),
    ...(after !== undefined && { after }),
    maxKeys: Math.min(maxKeys, MAX_LIST_KEYS),
    visible: (key) => reach.locations.some((location) => covers(location, `s3://${bucket}/${key}`)),
  });
  const parts = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Name>${xml(bucket)}</Name>`,
    `<Prefix>${text(prefix)}</Prefix>`,
    `<KeyCount>${page.objects.length + page.commonPrefixes.length}</KeyCount>`,
    `<MaxKeys>${maxKeys}</MaxKeys>`,
    delimiter === undefined ? '' : `<Delimiter>${text(delimiter)}</Delimiter>`,
    urlEncoded ? '<EncodingType>url</EncodingType>' : '',
    `<IsTruncated>${page.nextAfter !== undefined}</IsTruncated>`,
    token === null ? '' : `<ContinuationToken>${xml(token)}</ContinuationToken>`,
    page.nextAfter === undefined
      ? ''
      : `<NextContinuationToken>${Buffer.from(page.nextAfter).toString('base64url')}</NextContinuationToken>`,
    startAfter === undefined ? '' : `<StartAfter>${text(startAfter)}</StartAfter>`,
    ...page.objects.map(
      (object) =>
        `<Contents><Key>${text(object.key)}</Key><LastModified>${new Date(object.lastModified).toISOString()}</LastModified><ETag>${xml(object.etag)}</ETag><Size>${object.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    ),
    ...page.commonPrefixes.map(
      (p) => `<CommonPrefixes><Prefix>${text(p)}</Prefix></CommonPrefixes>`,
    ),
    '</ListBucketResult>',
  ];
  writeS3(res, 200, { 'content-type': 'application/xml' }, Buffer.from(parts.join('')));
}

/** The request body, or undefined once it passes `max` bytes (the rest is not read). */
export function readBytes(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.pause();
      resolve(undefined);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function xml(value: string): string {
  return value.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function writeS3(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body?: Buffer,
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'x-amz-request-id': randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(),
    'x-amz-id-2': randomBytes(48).toString('base64'),
    ...(body !== undefined &&
      !('content-length' in headers) && {
        'content-length': String(body.length),
      }),
    ...headers,
  });
  res.end(body);
}

/** S3's XML error; a HEAD answer has no body, as S3 sends none. */
export function writeS3Error(
  res: ServerResponse,
  error: S3Error,
  head: boolean,
  extra: Readonly<Record<string, string>> = error.extra,
): void {
  const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
  const fields = Object.entries(extra)
    .map(([name, value]) => `<${name}>${xml(value)}</${name}>`)
    .join('');
  const body = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${xml(error.message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>${randomBytes(48).toString('base64')}</HostId></Error>`,
  );
  if (res.headersSent || res.destroyed) return;
  res.writeHead(error.status, {
    'x-amz-request-id': requestId,
    'content-type': 'application/xml',
    'content-length': String(head ? 0 : body.length),
  });
  res.end(head ? undefined : body);
}
