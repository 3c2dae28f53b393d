/**
 * The part of autocannon's programmatic API the benchmarks use (the package ships no types).
 * See node_modules/autocannon/README.md, "API".
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface Options {
      readonly url: string;
      readonly connections?: number;
      /** Seconds. */
      readonly duration?: number;
      readonly method?: string;
      readonly headers?: Readonly<Record<string, string>>;
      /** Seconds before a request counts as timed out. */
      readonly timeout?: number;
      /** Milliseconds between the samples of the request-rate histogram. */
      readonly sampleInt?: number;
      readonly pipelining?: number;
    }

    interface Result {
      readonly errors: number;
      readonly timeouts: number;
      readonly non2xx: number;
      readonly resets: number;
      /** Seconds. */
      readonly duration: number;
      readonly requests: { readonly total: number; readonly average: number };
    }

    interface Instance extends EventEmitter {
      /** Every answer: status, bytes on the wire (head and body), milliseconds since sent. */
      on(
        event: 'response',
        listener: (client: unknown, statusCode: number, bytes: number, ms: number) => void,
      ): this;
      on(event: 'reqError', listener: (error: Error) => void): this;
      stop(): void;
    }
  }

  function autocannon(
    options: autocannon.Options,
    callback: (error: Error | null, result: autocannon.Result) => void,
  ): autocannon.Instance;

  export = autocannon;
}
