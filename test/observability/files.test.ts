/**
 * The dashboard and the alert rules refer only to metrics the daemon exports, and every alert
 * has its entry in the operations guide.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFile(new URL(path, root), 'utf8');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; runbook: string };
}

/** Names of the series the registry exports (histograms with their _bucket/_sum/_count). */
async function exportedNames(): Promise<Set<string>> {
  const registry = new Registry();
  createMetrics(registry);
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
    }
  }
  return names;
}

/** Metric names an expression uses: identifiers followed by `{`, `[`, a space or the end. */
function metricNames(expr: string): string[] {
  const stripped = expr.replace(/"[^"]*"/g, '""');
  return [...stripped.matchAll(/\b((?:credcache|process|nodejs)_[a-z0-9_]+)/g)].map(
    (match) => match[1] ?? '',
  );
}

function balanced(expr: string): boolean {
  let depth = 0;
  for (const char of expr.replace(/"[^"]*"/g, '""')) {
    if ('({['.includes(char)) depth += 1;
    if (')}]'.includes(char)) depth -= 1;
    if (depth < 0) return false;
  }
  return depth === 0;
}

describe('observability files', () => {
  it('alert rules use exported metrics, are well formed, and each has a runbook entry', async () => {
    const names = await exportedNames();
    const rules = (
      parse(await read('deploy/observability/alerts.yaml')) as {
        groups: { name: string; rules: Rule[] }[];
      }
    ).groups.flatMap((group) => group.rules);
    const operations = await read('docs/operations.md');
    assert.ok(rules.length >= 5);
    for (const rule of rules) {
      assert.ok(balanced(rule.expr), `${rule.alert}: unbalanced brackets`);
      const used = metricNames(rule.expr);
      assert.ok(used.length > 0, `${rule.alert} uses no metric`);
      for (const name of used) assert.ok(names.has(name), `${rule.alert}: ${name} is not exported`);
      assert.match(rule.labels.severity, /^(critical|warning|info)$/);
      const anchor = rule.annotations.runbook.split('#')[1] ?? '';
      assert.equal(anchor, rule.alert.toLowerCase());
      assert.ok(
        operations.includes(`### ${rule.alert}`),
        `docs/operations.md explains ${rule.alert}`,
      );
    }
  });

  it('dashboard panels query exported metrics only, covering every credcache metric', async () => {
    const names = await exportedNames();
    const dashboard = JSON.parse(await read('deploy/observability/dashboard.json')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, `${panel.title} has a query`);
      for (const { expr } of panel.targets) {
        assert.ok(balanced(expr), `${panel.title}: unbalanced brackets`);
        for (const name of metricNames(expr)) {
          assert.ok(names.has(name), `${panel.title}: ${name} is not exported`);
          used.add(name.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
    const credcacheMetrics = [...names].filter(
      (name) => name.startsWith('credcache_') && !/_(bucket|sum|count)$/.test(name),
    );
    for (const name of credcacheMetrics) assert.ok(used.has(name), `no panel shows ${name}`);
  });
});
