/**
 * Process warnings as log lines. Node prints each `process.emitWarning` to stderr as several
 * lines of text, among the daemon's JSON lines; the AWS SDK emits one at every start on Node 20
 * (its releases after January 2027 need Node 22). A daemon's operator should still learn that,
 * once, as one structured line: so Node's printer is replaced by a listener that logs each
 * distinct warning once, the SDK's in short with the versions it names.
 */
import type { Logger } from './logger.js';

/** How the SDK's Node-version warning begins (`@aws-sdk/core`, `emitWarningIfUnsupportedVersion`). */
const SDK_NODE_VERSION_WARNING = 'NodeVersionSupportWarning';

/** What the SDK's warning says, in short: the Node it will need and from when. */
function sdkNodeVersion(message: string): { requires?: string; from?: string } {
  const requires = /require node (>=\s*\d+)/.exec(message)?.[1];
  const from = /versions published after (.+?)\n/.exec(message)?.[1];
  return { ...(requires && { requires }), ...(from && { from }) };
}

/**
 * Logs every process warning (once per distinct text) instead of Node printing it to stderr.
 * Only for the daemon's own process: it takes Node's printer away for good.
 */
export function logProcessWarnings(logger: Logger, proc: NodeJS.Process = process): void {
  const seen = new Set<string>();
  proc.removeAllListeners('warning');
  proc.on('warning', (warning: Error & { code?: string }) => {
    const text = `${warning.name}: ${warning.message}`;
    if (seen.has(text)) return;
    seen.add(text);
    if (warning.message.startsWith(SDK_NODE_VERSION_WARNING)) {
      const sdk = sdkNodeVersion(warning.message);
      logger.warn(
        {
          warning: SDK_NODE_VERSION_WARNING,
          node: proc.version,
          sdkRequiresNode: sdk.requires,
          sdkReleases: sdk.from,
        },
        `the AWS SDK's releases ${sdk.from ? `published after ${sdk.from} ` : ''}need node ${sdk.requires ?? 'newer than this'}; this is ${proc.version}: upgrade node to keep receiving SDK fixes`,
      );
      return;
    }
    logger.warn(
      { warning: warning.name, ...(warning.code !== undefined && { code: warning.code }) },
      warning.message.split('\n', 1)[0] ?? warning.name,
    );
  });
}
