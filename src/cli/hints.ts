/**
 * The line `credcache serve` prints on stderr once the daemon is up, for the person who started
 * it: a `curl` line that works as it is when every target loaded, else what failed and where to
 * look. The log lines on stdout say the same for machines.
 */
import type { Daemon } from '../daemon/main.js';
import { singleQuoted } from '../shell-words.js';

export function startHint(daemon: Daemon, firstTarget: string | undefined): string | undefined {
  const { warm } = daemon;
  if (warm.warmed < warm.targets) {
    const failing = daemon.readiness
      .targets()
      .filter((target) => !target.ready)
      .map((target) => `${target.name}: ${target.reason ?? 'not ready'}`);
    return [
      `credcache: ${failing.length} of ${warm.targets} targets failed their first load (${failing.join('; ')}).`,
      "It keeps retrying them in the background. Why: the daemon's warn log lines;",
      `where they stand: \`credcache status\` (same --config) or ${daemon.probeUrl ?? daemon.url}/readyz.`,
    ].join(' ');
  }
  if (firstTarget === undefined || daemon.auth.mode.kind !== 'file') return undefined;
  const tokenFile = singleQuoted(daemon.auth.mode.path);
  return `credcache: try  curl -H "Authorization: $(cat ${tokenFile})" ${daemon.url}/v1/targets/${firstTarget}`;
}
