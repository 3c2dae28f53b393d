/**
 * The configured file sinks: each rewritten with its target's credential whenever a new one is
 * stored. The cache tells its listeners of a store in the same synchronous step that puts the
 * entry in place, before the load's promise settles, so a write made here (synchronous, atomic:
 * `writer.ts`) is on disk before any request is answered with that credential. A failed write
 * keeps the previous file; it is counted and logged (the sink, target, path and error code,
 * never the credential), and the next credential tries again.
 */
import type { CacheEntry, CacheListener } from '../cache/credential-cache.js';
import type { CredentialKey } from '../cache/key.js';
import type { SinkConfig } from '../config/schema.js';
import { SinkFormatError, sinkText } from './formats.js';
import { EmptyWrite, type WriterFs, writeAtomically } from './writer.js';

/** Where a sink's writes are counted and logged. */
export interface SinkObserver {
  /** The sinks in effect from now on (at start and after a reload), by label. */
  configured(sinks: readonly string[]): void;
  written(sink: string): void;
  failed(sink: string, details: { target: string; path: string; error: string }): void;
}

export interface SinksOptions {
  readonly sinks: readonly SinkConfig[];
  /** The configured targets by name (their keys change with a reload). */
  readonly targets: { get(name: string): { readonly key: CredentialKey } | undefined };
  /** The credential held for a key, if any, without counting it as a use. */
  readonly peek: (key: CredentialKey) => CacheEntry | undefined;
  readonly observe: SinkObserver;
  readonly fs?: WriterFs;
}

/** A sink's name in metrics and logs: its place in the configuration, `sinks[0]`. */
export const sinkLabel = (index: number): string => `sinks[${index}]`;

export class Sinks implements CacheListener {
  readonly #options: SinksOptions;
  #sinks: readonly SinkConfig[];

  constructor(options: SinksOptions) {
    this.#options = options;
    this.#sinks = options.sinks;
    options.observe.configured(options.sinks.map((_, index) => sinkLabel(index)));
  }

  /** A cache listener: writes every sink whose target's key is the entry's. */
  stored(entry: CacheEntry): void {
    if (this.#sinks.length === 0) return;
    const id = entry.key.id;
    this.#sinks.forEach((sink, index) => {
      if (this.#options.targets.get(sink.target)?.key.id === id) this.#write(index, sink, entry);
    });
  }

  /**
   * The sinks of a new configuration (a reload, after the targets were replaced); each whose
   * target already holds a credential is written now, the others when it arrives.
   */
  replace(sinks: readonly SinkConfig[]): void {
    this.#sinks = sinks;
    this.#options.observe.configured(sinks.map((_, index) => sinkLabel(index)));
    sinks.forEach((sink, index) => {
      const target = this.#options.targets.get(sink.target);
      const entry = target && this.#options.peek(target.key);
      if (entry) this.#write(index, sink, entry);
    });
  }

  #write(index: number, sink: SinkConfig, entry: CacheEntry): void {
    const label = sinkLabel(index);
    try {
      const dbName = (entry.key.request as { readonly dbName?: string }).dbName;
      const text = sinkText(sink.format, { name: sink.target, dbName }, entry);
      writeAtomically(sink.path, text, sink.mode, this.#options.fs);
    } catch (error) {
      // Never the credential: an fs error's code, a message of ours that names no value, or
      // else only the error's name (another's message might quote what it failed on).
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code ??
        (error instanceof SinkFormatError || error instanceof EmptyWrite
          ? error.message
          : error instanceof Error
            ? error.name
            : 'unknown');
      this.#options.observe.failed(label, { target: sink.target, path: sink.path, error: reason });
      return;
    }
    this.#options.observe.written(label);
  }
}
