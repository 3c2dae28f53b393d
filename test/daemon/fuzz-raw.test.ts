/**
 * Property-based fuzz of bad input, part 4: raw malformed HTTP over a `node:net` socket — bad
 * request lines, bad header syntax, bad chunked framing, garbage bytes, truncated requests and
 * pipelines that mix good requests with bad. Whatever Node's parser refuses must come back as
 * the JSON 400 of http.ts `onClientError`, or as a clean close; every answer that does come is a
 * well-formed HTTP/1.1 answer in the API error shape, never a 5xx, and the daemon keeps
 * answering. The end-of-run checks are in fuzz-harness.ts; FUZZ_SEED / FUZZ_PATH reproduce a
 * failure (see there).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';
import { Watch, errorOf, exchange, fuzzParameters, fuzzTimeout } from './fuzz-harness.js';
import { text } from './fuzz-values.js';

const CRLF = '\r\n';

/** Good requests, answered at once (no upstream call), to put before or after bad bytes. */
const GOOD = [
  `GET /healthz HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`,
  `GET /v1/targets/orders HTTP/1.1${CRLF}Host: localhost${CRLF}Authorization: ${TOKEN}${CRLF}${CRLF}`,
  `GET /readyz HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}${CRLF}`,
  `GET /nope HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`,
];
/** A good request that makes an upstream call (a new key each time): its answer comes later. */
const slowRequest = (suffix: string) =>
  `GET /v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(`${TABLE_ARN}${suffix}`)} HTTP/1.1${CRLF}Host: localhost${CRLF}Authorization: ${TOKEN}${CRLF}${CRLF}`;

const requestLineArb = fc
  .record({
    method: fc.constantFrom(
      'GET',
      'get',
      'G\u0000T',
      'GET\t',
      'A'.repeat(100),
      '',
      'POST',
      'PRI',
      'CONNECT',
      'GE T',
    ),
    sep1: fc.constantFrom(' ', '  ', '\t', ''),
    target: fc.constantFrom(
      '/healthz',
      '',
      '*',
      '/healthz extra',
      '/\u0000',
      '/he\u007fz',
      'http://[bad',
      '/%',
      '//',
      'localhost:80',
      `/${'a'.repeat(20_000)}`,
      '/héllo',
    ),
    sep2: fc.constantFrom(' ', '  ', '\t', ''),
    version: fc.constantFrom(
      'HTTP/1.1',
      'HTTP/1.0',
      '',
      'HTTP/1.1x',
      'HTTP/2.0',
      'HTTP/1.2',
      'HTTP/0.9',
      'http/1.1',
      'HTTP/11',
      'HTTP/1',
      'HTTP/9.9',
      'HTTPS/1.1',
      'HTTP/1.1 ',
    ),
    eol: fc.constantFrom(CRLF, '\n', '\r', '\r\r\n'),
  })
  .map(
    ({ method, sep1, target, sep2, version, eol }) =>
      `${method}${sep1}${target}${sep2}${version}${eol}Host: localhost${CRLF}${CRLF}`,
  );

const BAD_HEADER_LINES = [
  'NoColon',
  'Bad Name: x',
  ' folded: x',
  '\tfolded: x',
  ': no-name',
  'X-A: \u0000',
  'X-A: a\rb',
  'X-A: \u007f',
  'X-A\t: b',
  'Host : localhost',
  'Content-Length: abc',
  'Content-Length: 1\r\nContent-Length: 2',
  'Content-Length: -5',
  'Transfer-Encoding: chunked\r\nContent-Length: 3',
  'Transfer-Encoding: gzip',
  'Transfer-Encoding: chunked, gzip',
  'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
  `X-Big: ${'b'.repeat(17_000)}`,
  Array.from({ length: 3000 }, (_, index) => `X-${index}: ${index}`).join(CRLF),
  'X-Ok: café',
  'X-Ok: ' + '\u00ff'.repeat(10),
];
const badHeadersArb = fc
  .record({
    good: fc.constantFrom(...GOOD),
    lines: fc.array(fc.oneof(fc.constantFrom(...BAD_HEADER_LINES), text(30)), {
      minLength: 1,
      maxLength: 3,
    }),
    at: fc.nat(3),
  })
  .map(({ good, lines, at }) => {
    const [requestLine = '', ...rest] = good.split(CRLF);
    const headers = rest.filter((line) => line !== '');
    headers.splice(Math.min(at, headers.length), 0, ...lines);
    return `${requestLine}${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}`;
  });

const chunkedArb = fc
  .record({
    size: fc.constantFrom(
      'zz',
      '-1',
      '1;',
      'FFFFFFFFFFFFFFFFFF',
      ' 5',
      '5 ',
      '',
      '0x5',
      '2',
      '100',
    ),
    data: fc.constantFrom('{}', '{"TableArn":1}', '', 'xxxxx'),
    end: fc.constantFrom(
      `${CRLF}0${CRLF}${CRLF}`,
      CRLF,
      '',
      `${CRLF}0${CRLF}X-Trailer: 1${CRLF}${CRLF}`,
      `0${CRLF}${CRLF}`,
    ),
  })
  .map(
    ({ size, data, end }) =>
      `POST /v1/lakeformation/table-credentials HTTP/1.1${CRLF}Host: localhost${CRLF}Authorization: ${TOKEN}${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}${size}${CRLF}${data}${end}`,
  );

const garbageArb = fc
  .oneof(
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom(
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
      Buffer.from('\u0000'.repeat(64)),
      Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'),
      Buffer.from('{"TableArn":"x"}'),
    ),
    text(60).map((value) => Buffer.from(value, 'utf8')),
  )
  .filter(
    // Blank lines before a request line are allowed (RFC 9112 2.2): garbage has something else.
    (bytes) => bytes.some((byte) => byte !== 0x0d && byte !== 0x0a),
  );

type RawCase =
  | { readonly kind: 'requestLine'; readonly bytes: string }
  | { readonly kind: 'badHeaders'; readonly bytes: string }
  | { readonly kind: 'chunked'; readonly bytes: string }
  | { readonly kind: 'garbage'; readonly bytes: Buffer }
  | { readonly kind: 'truncated'; readonly bytes: string }
  | { readonly kind: 'goodThenGarbage'; readonly good: string; readonly bytes: Buffer }
  | { readonly kind: 'slowThenGarbage'; readonly good: string; readonly bytes: Buffer }
  | { readonly kind: 'garbageThenGood'; readonly bytes: Buffer; readonly good: string };

const caseArb: fc.Arbitrary<RawCase> = fc.oneof(
  requestLineArb.map((bytes) => ({ kind: 'requestLine' as const, bytes })),
  badHeadersArb.map((bytes) => ({ kind: 'badHeaders' as const, bytes })),
  chunkedArb.map((bytes) => ({ kind: 'chunked' as const, bytes })),
  garbageArb.map((bytes) => ({ kind: 'garbage' as const, bytes })),
  fc.tuple(fc.constantFrom(...GOOD), fc.nat()).map(([good, cut]) => ({
    kind: 'truncated' as const,
    bytes: good.slice(0, 1 + (cut % (good.length - 4))),
  })),
  fc
    .tuple(fc.constantFrom(...GOOD), garbageArb)
    .map(([good, bytes]) => ({ kind: 'goodThenGarbage' as const, good, bytes })),
  fc.tuple(fc.nat(), garbageArb).map(([key, bytes]) => ({
    kind: 'slowThenGarbage' as const,
    good: slowRequest(String(key)),
    bytes,
  })),
  fc
    .tuple(garbageArb, fc.constantFrom(...GOOD))
    .map(([bytes, good]) => ({ kind: 'garbageThenGood' as const, bytes, good })),
);

/** Whether some request head in `bytes` (an HTTP/1.x request line, then header lines) has no Host. */
function lacksHost(bytes: string): boolean {
  return bytes.split(/\r?\n\r?\n/).some((block) => {
    const [requestLine = '', ...lines] = block.split(/\r?\n/);
    return /HTTP\/1\.1/.test(requestLine) && !lines.some((line) => /^host\s*:/i.test(line));
  });
}

describe('daemon API fuzz: raw malformed HTTP over a socket (property)', function () {
  this.timeout(fuzzTimeout());
  const daemon = useDaemon({ upstream: { maxAttempts: 1 } });
  const watch = new Watch(daemon);
  beforeEach(() => watch.start());
  afterEach(() => watch.stop());

  it('bad request lines, header syntax, chunking, garbage, truncation, pipelines: a JSON 400 or a clean close', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (item) => {
        let parts: Buffer[];
        switch (item.kind) {
          case 'garbage':
            parts = [item.bytes];
            break;
          case 'goodThenGarbage':
          case 'slowThenGarbage':
            parts = [Buffer.from(item.good, 'latin1'), item.bytes];
            break;
          case 'garbageThenGood':
            parts = [item.bytes, Buffer.from(item.good, 'latin1')];
            break;
          default:
            parts = [Buffer.from(item.bytes, 'latin1')];
        }
        const result = await exchange(daemon.url, parts, { all: true });
        assert.equal(result.hung, false, 'the daemon neither answered nor closed the connection');
        assert.equal(result.invalid, undefined, `not an HTTP/1.1 answer: ${result.invalid ?? ''}`);
        // KNOWN_NODE_ANSWERS: Node's bare 400 for a request without Host (see fuzz-harness.ts).
        const hostless = parts.some((part) => lacksHost(part.toString('latin1')));
        for (const answer of result.answers) watch.answer(answer, false, hostless ? [400] : []);
        const [first] = result.answers;
        const refusal = (answer: typeof first) => {
          assert.ok(answer, 'an answer');
          if (hostless && answer.body === '') return;
          assert.equal(answer.status, 400, `${answer.status} ${answer.body}`);
          assert.equal(errorOf(answer).code, 'InvalidRequest');
        };
        switch (item.kind) {
          case 'garbage':
          case 'garbageThenGood':
            // Nothing good comes first: a refusal or a close, and the good request after the
            // garbage is never answered (the connection is done).
            if (first) refusal(first);
            assert.ok(result.answers.length <= 1, 'answers after a refusal');
            break;
          case 'goodThenGarbage':
          case 'slowThenGarbage': {
            // The good request is answered as it would be alone, the garbage after it at most
            // refused. When the good answer waits on an upstream call (slowThenGarbage), Node's
            // parser meets the garbage first and onClientError's refusal, sent at once, takes the
            // answer's place: out of pipeline order, but a JSON 400 and a close all the same.
            // (Known; reported with the fuzz: onClientError could wait for the answer in flight.)
            assert.ok(first, 'the good request before the garbage was not answered');
            assert.ok(first.status < 500);
            assert.ok(result.answers.length <= 2, 'more answers than requests');
            const second = result.answers[1];
            if (second) refusal(second);
            break;
          }
          case 'truncated':
            if (first) refusal(first);
            break;
          default:
            break;
        }
      }),
      fuzzParameters(400),
    );
    await watch.finish();
  });
});
