/**
 * The control API under `/_emulator/`: what tests use to count calls, inspect issued
 * credentials, inject faults and change behaviour. Unsigned; errors are
 * `{"error": {"code": "InvalidRequest", "message": ...}}` naming the field.
 */
import type { IncomingMessage } from 'node:http';
import type { StoredObject } from './objects.js';
import { BUCKET_NAME, MAX_KEY_BYTES, S3Error, readBytes, storeObject } from './s3.js';
import {
  type EmulatorState,
  FAULT_MODES,
  type Fault,
  type FaultMode,
  type IssuedCredential,
  type OperationName,
  OPERATIONS,
  type Settings,
  isOperationName,
} from './state.js';

export interface ControlAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Longest `latencyMs` a fault may ask for (10 minutes). */
export const MAX_FAULT_LATENCY_MS = 600_000;
/** Longest `credentialLifetimeSeconds` (the Lake Formation maximum). */
export const MAX_LIFETIME_SECONDS = 43_200;

class ControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new ControlError(400, 'InvalidRequest', message);

export function handleControl(
  state: EmulatorState,
  method: string,
  url: string,
  body: string | undefined,
): ControlAnswer {
  try {
    const [pathname = ''] = url.split('?', 1);
    const route = pathname.replace(/^\/_emulator\/?/, '').replace(/\/$/, '');
    const [resource = '', ...rest] = route.split('/');
    const id = rest.length === 1 ? decodeURIComponent(rest[0] ?? '') : undefined;

    switch (resource) {
      case 'calls':
        if (rest.length) break;
        allow(method, 'GET');
        return ok(state.calls());
      case 'credentials': {
        if (id === undefined || id === '') break;
        allow(method, 'GET');
        const issued = state.lookup(id);
        if (!issued) throw new ControlError(404, 'NotFound', `no credential ${id} was issued`);
        return ok(describeCredential(issued));
      }
      case 'faults':
        if (rest.length) break;
        allow(method, 'GET', 'POST');
        if (method === 'POST') state.setFault(parseFault(parseBody(body)));
        return ok({ faults: state.faults() });
      case 'config':
        if (rest.length) break;
        allow(method, 'GET', 'POST');
        if (method === 'POST') state.settings = parseSettings(parseBody(body), state.settings);
        return ok(state.settings);
      case 'reset':
        if (rest.length) break;
        allow(method, 'POST');
        state.reset();
        return ok({ reset: true });
    }
    throw new ControlError(404, 'NotFound', `no control endpoint at ${pathname.slice(0, 200)}`);
  } catch (error) {
    if (!(error instanceof ControlError)) throw error;
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  }
}

const ok = (body: unknown): ControlAnswer => ({ status: 200, body });

function allow(method: string, ...methods: string[]): void {
  if (!methods.includes(method)) {
    throw new ControlError(405, 'MethodNotAllowed', `use ${methods.join(' or ')}`);
  }
}

function describeCredential(issued: IssuedCredential) {
  return {
    id: issued.id,
    operation: issued.operation,
    scope: issued.scope,
    auditContext: issued.auditContext ?? null,
    callerAccessKeyId: issued.callerAccessKeyId,
    issuedAt: new Date(issued.issuedAt).toISOString(),
    expiration: new Date(issued.expiration).toISOString(),
    nextRefreshTime:
      issued.nextRefreshTime === undefined ? null : new Date(issued.nextRefreshTime).toISOString(),
    signedCalls: issued.signedCalls,
  };
}

function parseBody(body: string | undefined): Record<string, unknown> {
  if (body === undefined) throw invalid('body: too large');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body === '' ? '{}' : body);
  } catch {
    throw invalid('body: not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('body: must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function rejectUnknown(body: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(body).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw invalid(`${unknown}: unknown field (expected one of ${known.join(', ')})`);
  }
}

function integerIn(body: Record<string, unknown>, field: string, min: number, max: number) {
  const value = body[field];
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalid(`${field}: must be an integer from ${min} to ${max}`);
  }
  return value as number;
}

const FAULT_FIELDS = ['operation', 'mode', 'errorType', 'message', 'status', 'latencyMs', 'count'];

function parseFault(
  body: Record<string, unknown>,
): Fault | { operation: OperationName | '*'; mode: 'ok' } {
  rejectUnknown(body, FAULT_FIELDS);
  const { operation, mode, errorType, message } = body;
  if (typeof operation !== 'string' || !(operation === '*' || isOperationName(operation))) {
    throw invalid(`operation: must be ${OPERATIONS.join(', ')} or *`);
  }
  if (typeof mode !== 'string' || !(FAULT_MODES as readonly string[]).includes(mode)) {
    throw invalid(`mode: must be one of ${FAULT_MODES.join(', ')}`);
  }
  if (
    errorType !== undefined &&
    (typeof errorType !== 'string' || !/^[A-Za-z][A-Za-z0-9.#:]{0,127}$/.test(errorType))
  ) {
    throw invalid('errorType: must be an AWS error name such as AccessDeniedException');
  }
  if (message !== undefined && (typeof message !== 'string' || message.length > 1024)) {
    throw invalid('message: must be a string of at most 1024 characters');
  }
  const status = integerIn(body, 'status', 400, 599);
  const latencyMs = integerIn(body, 'latencyMs', 0, MAX_FAULT_LATENCY_MS);
  const count = integerIn(body, 'count', 1, Number.MAX_SAFE_INTEGER);
  if ((mode as FaultMode) === 'latency' && latencyMs === undefined) {
    throw invalid('latencyMs: required with mode latency');
  }
  if (mode === 'ok') return { operation, mode };
  return {
    operation,
    mode: mode as Fault['mode'],
    ...(errorType !== undefined && { errorType }),
    ...(message !== undefined && { message }),
    ...(status !== undefined && { status }),
    ...(latencyMs !== undefined && { latencyMs }),
    ...(count !== undefined && { remaining: count }),
  };
}

const SETTINGS_FIELDS = ['credentialLifetimeSeconds', 'nextRefreshFraction', 'deny', 'missing'];

/** Applies the fields present in `body` over `current`; absent fields keep their value. */
function parseSettings(body: Record<string, unknown>, current: Settings): Settings {
  rejectUnknown(body, SETTINGS_FIELDS);
  const next: Settings = structuredClone(current);
  const lifetime = body.credentialLifetimeSeconds;
  if (lifetime !== undefined) {
    if (
      lifetime !== null &&
      (typeof lifetime !== 'number' || !(lifetime > 0) || lifetime > MAX_LIFETIME_SECONDS)
    ) {
      throw invalid(
        `credentialLifetimeSeconds: must be a number above 0 and at most ${MAX_LIFETIME_SECONDS}, or null`,
      );
    }
    next.credentialLifetimeSeconds = lifetime;
  }
  const fraction = body.nextRefreshFraction;
  if (fraction !== undefined) {
    if (fraction !== null && (typeof fraction !== 'number' || !(fraction >= 0) || fraction > 1)) {
      throw invalid('nextRefreshFraction: must be a number from 0 to 1, or null');
    }
    next.nextRefreshFraction = fraction;
  }
  for (const field of ['deny', 'missing'] as const) {
    const list = body[field];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string' && item !== '')) {
      throw invalid(`${field}: must be a list of non-empty strings`);
    }
    next[field] = list as string[];
  }
  return next;
}

/**
 * The S3 objects under `/_emulator/s3`: `GET` lists them; `PUT /_emulator/s3/{bucket}/{key}`
 * seeds one from the raw request body, unsigned; `DELETE` of the same path removes it.
 */
export async function handleObjectControl(
  req: IncomingMessage,
  state: EmulatorState,
  nowMs: number,
): Promise<ControlAnswer> {
  const method = req.method ?? 'GET';
  try {
    const [pathname = ''] = (req.url ?? '').split('?', 1);
    const rest = pathname.replace(/^\/_emulator\/s3\/?/, '');
    if (rest === '') {
      allow(method, 'GET');
      return ok(describeObjects(state));
    }
    allow(method, 'PUT', 'DELETE');
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    let key = '';
    try {
      key = slash < 0 ? '' : decodeURIComponent(rest.slice(slash + 1));
    } catch {
      throw invalid('key: not a valid percent-encoded path');
    }
    if (!BUCKET_NAME.test(bucket))
      throw invalid(`bucket: ${bucket.slice(0, 100)} is not an S3 bucket name`);
    if (key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES) {
      throw invalid(`key: must be 1 to ${MAX_KEY_BYTES} bytes`);
    }
    if (method === 'DELETE') {
      req.resume();
      if (!state.objects.delete(bucket, key)) {
        throw new ControlError(404, 'NotFound', `no object s3://${bucket}/${key}`);
      }
      return ok({ deleted: `s3://${bucket}/${key}` });
    }
    const body = await readBytes(req, state.objects.limits.maxObjectBytes);
    if (body === undefined) {
      throw new ControlError(
        413,
        'PayloadTooLarge',
        `body: larger than the ${state.objects.limits.maxObjectBytes}-byte object limit`,
      );
    }
    try {
      const contentType = req.headers['content-type'];
      const stored = storeObject(state, bucket, key, body, contentType, nowMs);
      return ok(describeObject(stored));
    } catch (error) {
      if (!(error instanceof S3Error)) throw error;
      throw new ControlError(507, error.code, error.message);
    }
  } catch (error) {
    if (!(error instanceof ControlError)) throw error;
    if (!req.readableEnded) req.resume();
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  }
}

function describeObject(object: StoredObject) {
  return {
    bucket: object.bucket,
    key: object.key,
    uri: `s3://${object.bucket}/${object.key}`,
    size: object.body.length,
    etag: object.etag,
    contentType: object.contentType,
    lastModified: new Date(object.lastModified).toISOString(),
  };
}

function describeObjects(state: EmulatorState) {
  const { objects } = state;
  return {
    count: objects.count,
    totalBytes: objects.totalBytes,
    limits: objects.limits,
    objects: objects.all().map(describeObject),
  };
}
