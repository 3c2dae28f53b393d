/**
 * Counters and a histogram for the series every request touches, kept as plain numbers and
 * exposed through prom-client's registry under their documented names (docs/metrics.md), with the same exposition.
 *
 * prom-client's bound children still validate and hash their labels and allocate on every call:
 * about 0.75 µs for the two counters and the histogram a cache hit feeds, against a few ns for
 * adding to a number. Here a child is made once per label set and an observation only adds; the
 * registry reads the numbers when it is scraped (`get`, `getForPromString`, as a prom-client
 * metric answers them). Series with rare updates (upstream calls, evictions) stay on
 * prom-client's own classes.
 */
import type { Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

/** One value line as prom-client's registry formats it. */
interface ValuePair {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
  readonly sharedLabels?: Labels;
  /** Exemplars are not kept; the field is there as prom-client's histogram lines carry it. */
  readonly exemplar?: null | undefined;
}

interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: ValuePair[];
  readonly aggregator: 'sum';
}

/** What prom-client's `Registry` needs of a metric (its own classes answer the same). */
abstract class HotMetric<Child> {
  readonly aggregator = 'sum' as const;
  readonly #children = new Map<string, { readonly labels: Labels; readonly child: Child }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  protected abstract makeChild(): Child;
  /** The child's value lines; none while it has never been counted (as prom-client). */
  protected abstract valuesOf(labels: Labels, child: Child): ValuePair[];
  abstract reset(): void;

  /** The child of `labels` (every label name given), made on first use; keep it. */
  labels(labels: Labels): Child {
    const key = this.labelNames.map((name) => labels[name] ?? '').join('\u0000');
    let found = this.#children.get(key);
    if (!found) {
      const ordered: Record<string, string> = {};
      for (const name of this.labelNames) ordered[name] = labels[name] ?? '';
      found = { labels: ordered, child: this.makeChild() };
      this.#children.set(key, found);
    }
    return found.child;
  }

  protected children(): Iterable<Child> {
    return [...this.#children.values()].map(({ child }) => child);
  }

  getForPromString(): MetricData {
    const values: ValuePair[] = [];
    for (const { labels, child } of this.#children.values()) {
      values.push(...this.valuesOf(labels, child));
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  /** As prom-client's `get`: a histogram's shared labels folded into each value's own. */
  get(): MetricData {
    const data = this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ labels, sharedLabels, ...rest }) => ({
        ...rest,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }

  abstract readonly type: 'counter' | 'histogram';
}

export class CounterChild {
  value = 0;
  /** Shown once counted, even by 0 (as prom-client shows a series from its first `inc`). */
  touched = false;
  inc(by = 1): void {
    this.value += by;
    this.touched = true;
  }
}

/** A counter family; `labels(…)` gives a child to `inc`. */
export class HotCounter extends HotMetric<CounterChild> {
  readonly type = 'counter' as const;

  protected makeChild(): CounterChild {
    return new CounterChild();
  }

  protected valuesOf(labels: Labels, child: CounterChild): ValuePair[] {
    return child.touched ? [{ labels: { ...labels }, value: child.value }] : [];
  }

  reset(): void {
    for (const child of this.children()) {
      child.value = 0;
      child.touched = false;
    }
  }
}

export class HistogramChild {
  /** Observations per bucket (not cumulative); the last is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const { bounds } = this;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket += 1;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

/** A histogram family with fixed bucket bounds; `labels(…)` gives a child to `observe`. */
export class HotHistogram extends HotMetric<HistogramChild> {
  readonly type = 'histogram' as const;
  readonly #bounds: Float64Array;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.#bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
  }

  protected makeChild(): HistogramChild {
    return new HistogramChild(this.#bounds);
  }

  protected valuesOf(labels: Labels, child: HistogramChild): ValuePair[] {
    if (child.count === 0) return [];
    const bucket = `${this.name}_bucket`;
    // As prom-client's lines: `le` first, the family's labels shared; exemplar null on buckets.
    const line = (own: ValuePair['labels'], value: number, metricName: string, exemplar?: null) =>
      ({ labels: own, value, metricName, sharedLabels: labels, exemplar }) as ValuePair;
    const values: ValuePair[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, index) => {
      cumulative += child.counts[index] as number;
      values.push(line({ le: bound }, cumulative, bucket, null));
    });
    values.push(
      line({ le: '+Inf' }, child.count, bucket, null),
      line({}, child.sum, `${this.name}_sum`),
      line({}, child.count, `${this.name}_count`),
    );
    return values;
  }

  reset(): void {
    for (const child of this.children()) {
      child.counts.fill(0);
      child.sum = 0;
      child.count = 0;
    }
  }
}
