/**
 * Commands that read a configuration without running the daemon: `credcache get` (asks the
 * running daemon for a target, for `credential_process`) and `credcache check-config`; and how
 * any client command reaches the running daemon (`askDaemon`).
 */
import { defaultTokenFile, readTokenFile } from '../daemon/http/auth.js';
import { type Config, defaultDuration, loadConfig } from '../config/config.js';
import type { Preflight } from '../daemon/preflight.js';
import { targetKey } from '../daemon/targets.js';
import { clientUrl } from '../net/address.js';
import { type TargetAnswer, envText, processText } from '../sinks/formats.js';

/** How long a client command waits for the daemon (it may be loading the credential upstream). */
const GET_TIMEOUT_MS = 30_000;

function clientToken(config: Config): string | undefined {
  if (config.auth.disabled) return undefined;
  if (config.auth.token !== undefined) return config.auth.token;
  const path = config.auth.tokenFile ?? defaultTokenFile();
  try {
    return readTokenFile(path);
  } catch (error) {
    throw new Error(
      `cannot read the token file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; is the daemon running with this configuration?`,
      { cause: error },
    );
  }
}

/**
 * The running daemon's JSON answer to `GET path`, found through `config` (its listen address and
 * token, as the daemon itself reads them); an answer other than 2xx throws with its code and message.
 */
export async function askDaemon(config: Config, path: string): Promise<unknown> {
  const token = clientToken(config);
  const url = `${clientUrl(config.listen)}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: token === undefined ? {} : { authorization: token },
      signal: AbortSignal.timeout(GET_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new Error(
      `cannot reach the daemon at ${clientUrl(config.listen)}${cause ? ` (${cause})` : ''}`,
      { cause: error },
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`the daemon answered ${response.status} with a body that is not JSON`);
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } }).error;
    throw new Error(
      `${response.status} ${error?.code ?? 'Error'}: ${error?.message ?? 'no message'}`,
    );
  }
  return body;
}

/** How `credcache get` prints a credential. */
export const GET_FORMATS = ['process', 'env', 'json'] as const;
export type GetFormat = (typeof GET_FORMATS)[number];

/**
 * The target's credentials from the running daemon, as `format` asks:
 * - `process` (the default): `credential_process` JSON for a Lake Formation target, the Redshift
 *   shape for a Redshift target;
 * - `env`: shell assignments, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` for
 *   Lake Formation, `PGUSER`, `PGPASSWORD` for Redshift;
 * - `json`: the daemon's answer as it came.
 */
export async function getTarget(
  name: string,
  configFile: string | undefined,
  format: GetFormat = 'process',
): Promise<string> {
  const config = await loadConfig(configFile);
  const body = await askDaemon(config, `/v1/targets/${encodeURIComponent(name)}`);
  if (format === 'json') return JSON.stringify(body);
  const answer = body as TargetAnswer;
  return format === 'env' ? envText(answer) : processText(answer);
}

/** What the daemon would do with a configuration that passed `preflight`, one line each. */
export function checkConfig(checked: Preflight): string[] {
  const { config, region } = checked;
  const lines = [`configuration OK: ${config.origin}`];
  const { host, port } = config.listen;
  lines.push(`listen: ${host.includes(':') ? `[${host}]` : host}:${port}`);
  const { auth } = config;
  lines.push(
    auth.disabled
      ? 'auth: DISABLED (any local process can read credentials; a warning is logged at every start)'
      : auth.token !== undefined
        ? 'auth: inline token (prefer auth.tokenFile)'
        : `auth: token file ${auth.tokenFile ?? `${defaultTokenFile()} (default)`}, created with a random token when missing`,
  );
  const { upstream } = config;
  lines.push(
    `upstream: region ${region ? `${region.name} (from ${region.from})` : "(the emulator's)"}; Lake Formation ${upstream.lakeFormationEndpoint ?? '(SDK endpoint)'}; Redshift Serverless ${upstream.redshiftServerlessEndpoint ?? '(SDK endpoint)'}; audit context ${JSON.stringify(upstream.auditContext)}`,
  );
  lines.push(
    `cache: up to ${config.cache.maxEntries} entries; never serves less than ${config.cache.minRemainingSeconds} s of validity; idle keys stop refreshing after ${config.cache.idleSeconds} s`,
  );
  const allow = config.allow;
  lines.push(
    allow === undefined
      ? 'allow: every table, workgroup and data location (no allow-list)'
      : `allow: tables ${allow.tables?.join(', ') ?? '(all)'}; workgroups ${allow.workgroups?.join(', ') ?? '(all)'}; custom domains ${allow.customDomains?.join(', ') ?? (allow.workgroups ? '(none)' : '(all)')}; data locations ${allow.locations?.join(', ') ?? (allow.tables ? '(none)' : '(all)')}`,
  );
  lines.push(`targets: ${config.targets.length}`);
  for (const target of config.targets) {
    const key = targetKey(target, config);
    const duration = target.durationSeconds ?? defaultDuration(config, target.source);
    const format =
      target.source === 'redshift_serverless' ? 'Redshift shape' : 'container credentials';
    const fields = Object.entries(key.request)
      .filter(([field]) => field !== 'durationSeconds')
      .map(([field, value]) => `${field}=${Array.isArray(value) ? value.join(',') : String(value)}`)
      .join(' ');
    lines.push(
      `  ${target.name}: ${target.source} ${fields} (${duration} s) → GET /v1/targets/${target.name} (${format})`,
    );
  }
  lines.push(`sinks: ${config.sinks.length}`);
  config.sinks.forEach((sink, index) => {
    lines.push(
      `  sinks[${index}]: target ${sink.target} → ${sink.path} (${sink.format}, mode 0${sink.mode.toString(8)}), rewritten before each new credential is served`,
    );
  });
  lines.push(`proxies: ${config.proxies.length}`);
  config.proxies.forEach((proxy, index) => {
    lines.push(
      `  proxies[${index}]: PostgreSQL on ${proxy.listen} → ${proxy.upstream} as target ${proxy.target} (TLS ${proxy.tls}${proxy.caFile ? `, CA ${proxy.caFile}` : ''}; clients ${proxy.clientAuth === 'token' ? 'send the token as password' : 'any local process: no token'}; at most ${proxy.maxConnections} connections)`,
    );
  });
  return lines;
}
