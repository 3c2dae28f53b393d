/**
 * `credcache aws-config`: an AWS shared config with one `[profile <target>]` per Lake Formation
 * target, whose `credential_process` runs `credcache get <target>` by absolute paths (this
 * node, this package's bin, the config file when one was given), so the profile works from any
 * directory: DuckDB `CHAIN 'process'` secrets, Hadoop S3A per-bucket profiles, boto3
 * `profile_name`, the AWS CLI.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Config } from '../config/config.js';
import { shellCommand } from '../shell-words.js';

/** This package's `bin/credcache.js`: two folders up from src/cli/ (tsx) or dist/cli/ (built). */
const CREDCACHE_BIN = fileURLToPath(new URL('../../bin/credcache.js', import.meta.url));

export interface AwsConfigOptions {
  /** The config file the daemon runs with, as given; absent: defaults and environment. */
  readonly configFile: string | undefined;
}

/** The shared config's text; throws when the config has no Lake Formation target. */
export function awsConfig(config: Config, options: AwsConfigOptions): string {
  const configArgs =
    options.configFile === undefined ? [] : ['--config', resolve(options.configFile)];
  const lines = [
    `# AWS shared config written by \`credcache aws-config\` from ${config.origin}.`,
    '# Each profile asks the running daemon for its target (credcache get); use it with',
    '# AWS_CONFIG_FILE=<this file> and --profile <target>, or paste it into ~/.aws/config.',
  ];
  let profiles = 0;
  for (const target of config.targets) {
    if (target.source === 'redshift_serverless') {
      lines.push(
        '',
        `# ${target.name}: a Redshift Serverless target (a database user), no profile`,
      );
      continue;
    }
    profiles += 1;
    lines.push(
      '',
      `[profile ${target.name}]`,
      `credential_process = ${shellCommand([process.execPath, CREDCACHE_BIN, 'get', target.name, ...configArgs])}`,
    );
    if (config.upstream.region !== undefined) lines.push(`region = ${config.upstream.region}`);
  }
  if (profiles === 0) {
    throw new Error(`${config.origin}: no Lake Formation target to write a profile for`);
  }
  return lines.join('\n');
}
