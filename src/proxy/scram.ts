/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the proxy logs
 * in upstream with the cached Redshift password when the server asks for SASL. No channel
 * binding (`n,,`: the proxy authenticates the server by TLS, `verify-full`, not by SCRAM), and
 * the password is used as given, without SASLprep — PostgreSQL itself falls back to the raw
 * bytes for a password SASLprep would reject, and Redshift passwords are printable ASCII.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/**
 * The most PBKDF2 iterations a server may ask for. PostgreSQL's default is 4096 (about a
 * millisecond); a server asking for billions would hold a thread for minutes on every login.
 */
export const MAX_ITERATIONS = 1_000_000;

const derive = promisify(pbkdf2);

/**
 * SaltedPassword (PBKDF2 of the password, the server's salt and iteration count) by all three,
 * for a few recent ones. A role's salt and count stay the same until its password changes, so
 * every login on one cached credential after the first skips the derivation — the costliest step
 * of a connection's set-up (pgbouncer keeps the same keys for the same reason). Derived off the
 * event loop (libuv's thread pool), so logins never stall the daemon's HTTP answers. Keyed by a
 * hash, not the password; bounded, the oldest dropped first.
 */
export class SaltedPasswords {
  readonly #entries = new Map<string, Promise<Buffer>>();
  #derivations = 0;

  constructor(readonly maxEntries = 8) {}

  /** How many derivations were run (not served from memory). */
  get derivations(): number {
    return this.#derivations;
  }

  get(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
    const key = createHash('sha256')
      .update(`${iterations}\0${salt.toString('base64')}\0`)
      .update(password)
      .digest('base64');
    const known = this.#entries.get(key);
    if (known) return known;
    this.#derivations += 1;
    const salted = derive(password, salt, iterations, 32, 'sha256');
    this.#entries.set(key, salted);
    // A failed derivation is not kept.
    salted.catch(() => this.#entries.delete(key));
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return salted;
  }
}

/** Why a SCRAM exchange cannot go on: the server's message is malformed or not genuine. */
export class ScramError extends Error {
  override readonly name = 'ScramError';
}

const hmac = (key: Buffer, data: string | Buffer) =>
  createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i += 1) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

/** `key=value` attributes of a SCRAM message. */
function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    const at = part.indexOf('=');
    if (at !== 1)
      throw new ScramError(`malformed SCRAM attribute ${JSON.stringify(part.slice(0, 20))}`);
    map.set(part.slice(0, 1), part.slice(2));
  }
  return map;
}

/** One SCRAM-SHA-256 exchange: client-first, client-final, then the server's signature checked. */
export class ScramClient {
  readonly #password: string;
  readonly #clientNonce: string;
  #clientFirstBare = '';
  #serverSignature: Buffer | undefined;

  readonly #salted: SaltedPasswords;

  /** `nonce` is for tests (a known vector); otherwise 18 random bytes. */
  constructor(
    password: string,
    options: { readonly salted?: SaltedPasswords; readonly nonce?: string } = {},
  ) {
    this.#password = password;
    this.#clientNonce = options.nonce ?? randomBytes(18).toString('base64');
    this.#salted = options.salted ?? new SaltedPasswords(1);
  }

  /**
   * The client-first message. PostgreSQL takes the user from the startup message and ignores
   * the SCRAM user name, which is sent empty.
   */
  first(user = ''): string {
    this.#clientFirstBare = `n=${user},r=${this.#clientNonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  /** The client-final message for the server-first message. */
  async final(serverFirst: string): Promise<string> {
    const server = attributes(serverFirst);
    const nonce = server.get('r');
    const salt = server.get('s');
    const iterations = Number(server.get('i'));
    if (!nonce?.startsWith(this.#clientNonce) || nonce.length === this.#clientNonce.length) {
      throw new ScramError('the server nonce does not extend the client nonce');
    }
    if (!salt || !Number.isSafeInteger(iterations) || iterations < 1) {
      throw new ScramError('the server-first message lacks a salt or an iteration count');
    }
    if (iterations > MAX_ITERATIONS) {
      throw new ScramError(
        `the server asks for ${iterations} PBKDF2 iterations, over the ${MAX_ITERATIONS} allowed`,
      );
    }
    const salted = await this.#salted.get(this.#password, Buffer.from(salt, 'base64'), iterations);
    const clientKey = hmac(salted, 'Client Key');
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
    this.#serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final message: the server knew the password too. */
  verify(serverFinal: string): void {
    const server = attributes(serverFinal);
    const error = server.get('e');
    if (error !== undefined) throw new ScramError(`the server refused the proof: ${error}`);
    const signature = Buffer.from(server.get('v') ?? '', 'base64');
    const expected = this.#serverSignature;
    if (
      !expected ||
      signature.length !== expected.length ||
      !timingSafeEqual(signature, expected)
    ) {
      throw new ScramError('the server signature does not match');
    }
  }
}
