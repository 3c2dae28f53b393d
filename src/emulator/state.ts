/**
 * Everything the emulator remembers between requests: call counts, injected faults, the
 * behaviour settings of the control API, and every credential it issued with its scope.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ObjectStore } from './objects.js';

export const OPERATIONS = [
  'GetTemporaryGlueTableCredentials',
  'GetTemporaryGluePartitionCredentials',
  'GetTemporaryDataLocationCredentials',
  'GetCredentials',
] as const;
export type OperationName = (typeof OPERATIONS)[number];

export function isOperationName(value: string): value is OperationName {
  return (OPERATIONS as readonly string[]).includes(value);
}

export const FAULT_MODES = ['error', 'throttle', 'latency', 'hang', 'ok'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

export interface Fault {
  /** An operation name, or `*` for every operation. */
  readonly operation: OperationName | '*';
  readonly mode: Exclude<FaultMode, 'ok'>;
  /** The AWS error name for `error` (default: the service's internal error) and `throttle`. */
  readonly errorType?: string;
  /** Overrides the error message. */
  readonly message?: string;
  /** Overrides the HTTP status AWS would use for `errorType`. */
  readonly status?: number;
  /** For `latency`: how long to wait before answering normally. */
  readonly latencyMs?: number;
  /** How many more matching calls the fault applies to; undefined = until changed. */
  remaining?: number;
}

export interface Settings {
  /** When set, every credential lives this long, whatever duration was requested. */
  credentialLifetimeSeconds: number | null;
  /** Redshift `nextRefreshTime` = issue time + fraction × lifetime; null omits the field. */
  nextRefreshFraction: number | null;
  /**
   * TableArn / workgroupName / customDomainName patterns (`*` wildcards) answered AccessDenied;
   * for the location call, matched against each S3 location and the ARN of the table it lies in.
   */
  deny: string[];
  /** Patterns answered EntityNotFound (Lake Formation) / ResourceNotFound (Redshift). */
  missing: string[];
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  credentialLifetimeSeconds: null,
  nextRefreshFraction: 0.75,
  deny: [],
  missing: [],
});

export interface IssuedCredential {
  /** AccessKeyId for Lake Formation, dbPassword for Redshift Serverless. */
  readonly id: string;
  readonly operation: OperationName;
  /** The key fields the credential was issued for, in the request's own member names. */
  readonly scope: Readonly<Record<string, unknown>>;
  readonly auditContext?: string;
  /** The access key that signed the request which obtained it. */
  readonly callerAccessKeyId: string;
  readonly issuedAt: number;
  readonly expiration: number;
  readonly nextRefreshTime?: number;
  /** Secret half, kept so signatures made with the credential can be verified. */
  readonly secretAccessKey?: string;
  /** Session token of a Lake Formation credential, which S3 requests must carry. */
  readonly sessionToken?: string;
  /** Requests signed with this credential that reached the emulator. */
  signedCalls: number;
}

/** Most credentials remembered at once; older ones are forgotten first. */
export const MAX_REMEMBERED_CREDENTIALS = 100_000;

export class EmulatorState {
  settings: Settings = structuredClone(DEFAULT_SETTINGS) as Settings;
  readonly #calls = new Map<OperationName, number>();
  readonly #faults = new Map<OperationName | '*', Fault>();
  readonly #issued = new LRUCache<string, IssuedCredential>({ max: MAX_REMEMBERED_CREDENTIALS });
  #sequence = 0;
  /** The S3 data plane's objects. */
  readonly objects = new ObjectStore();

  reset(): void {
    this.objects.clear();
    this.settings = structuredClone(DEFAULT_SETTINGS) as Settings;
    this.#calls.clear();
    this.#faults.clear();
    this.#issued.clear();
  }

  countCall(operation: OperationName): void {
    this.#calls.set(operation, (this.#calls.get(operation) ?? 0) + 1);
  }

  calls(): { total: number; byOperation: Record<string, number> } {
    const byOperation = Object.fromEntries(OPERATIONS.map((op) => [op, this.#calls.get(op) ?? 0]));
    const total = Object.values(byOperation).reduce((sum, n) => sum + n, 0);
    return { total, byOperation };
  }

  /** Installs a fault, or with mode `ok` clears it (`*` + `ok` clears every fault). */
  setFault(fault: Fault | { operation: OperationName | '*'; mode: 'ok' }): void {
    if (fault.mode === 'ok') {
      if (fault.operation === '*') this.#faults.clear();
      else this.#faults.delete(fault.operation);
      return;
    }
    this.#faults.set(fault.operation, { ...fault });
  }

  faults(): Fault[] {
    return [...this.#faults.values()].map((fault) => ({ ...fault }));
  }

  /**
   * The fault that applies to this call of `operation` (its own before `*`), consuming one of
   * its `count`.
   */
  takeFault(operation: OperationName): Fault | undefined {
    const key = this.#faults.has(operation) ? operation : '*';
    const fault = this.#faults.get(key);
    if (!fault) return undefined;
    if (fault.remaining !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.#faults.delete(key);
    }
    return { ...fault };
  }

  /** A new identifier fragment, unique for the life of this state. */
  nextSequence(): number {
    return ++this.#sequence;
  }

  remember(credential: IssuedCredential): void {
    this.#issued.set(credential.id, credential);
  }

  lookup(id: string): IssuedCredential | undefined {
    return this.#issued.get(id);
  }

  /** Every credential remembered, most recent first. */
  issuedCredentials(): IssuedCredential[] {
    return [...this.#issued.values()];
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `ASIA` + 16 base-32 characters, like an STS temporary access key; unique via `sequence`. */
export function newAccessKeyId(sequence: number): string {
  let prefix = '';
  for (let n = sequence, i = 0; i < 6; i++, n = Math.floor(n / 32))
    prefix = BASE32[n % 32] + prefix;
  let suffix = '';
  for (const byte of randomBytes(10)) suffix += BASE32[byte % 32];
  return `ASIA${prefix}${suffix}`;
}

export function newSecret(bytes: number): string {
  return randomBytes(bytes).toString('base64');
}

/** A URL-safe random string, so it can name its own credential in the control API. */
export function newPassword(sequence: number): string {
  return `${sequence.toString(36)}${randomBytes(30).toString('base64url')}`;
}

/** Whether `value` matches a pattern in which `*` stands for any run of characters. */
export function matchesPattern(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );
  return regex.test(value);
}
