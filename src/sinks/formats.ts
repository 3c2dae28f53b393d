/**
 * What a file sink (and `credcache get`) writes for a configured target: the target's answer
 * (what `GET /v1/targets/{name}` serves: the container-credentials shape for a Lake Formation
 * target, the Redshift shape for a Redshift Serverless one) in one of these forms:
 *
 * - `aws-credentials`: an AWS shared credentials file with one profile named after the target
 *   (`AWS_SHARED_CREDENTIALS_FILE=<path> AWS_PROFILE=<target>`), its expiry in a comment;
 * - `env`: `NAME='value'` lines quoted for `sh` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 *   `AWS_SESSION_TOKEN`; `PGUSER`, `PGPASSWORD` for Redshift);
 * - `json`: the target's answer as the daemon serves it;
 * - `process`: `credential_process` JSON (`Version: 1`);
 * - `pgpass`: one libpq password-file line, `*:*:<dbName>:<dbUser>:<dbPassword>`.
 */
import type { CacheEntry } from '../cache/credential-cache.js';
import { SINK_FORMATS, type SinkFormat, formatsFor } from '../config/schema.js';
import { singleQuoted } from '../shell-words.js';
import { containerCredentialsJson, databaseCredentialsJson } from '../providers/credential-json.js';
import type { DatabaseCredentials, S3Credentials } from '../providers/types.js';

export { SINK_FORMATS, type SinkFormat, formatsFor };

/** A target's answer as the daemon serves it (parsed JSON). */
export type TargetAnswer = Readonly<Record<string, unknown>>;

/** Whether `answer` is a Lake Formation one (keys), rather than Redshift's (user, password). */
const isS3 = (answer: TargetAnswer): boolean => typeof answer.AccessKeyId === 'string';

/** `NAME=value` lines, each value quoted for `sh` (`eval "$(credcache get NAME --format env)"`). */
export function envText(answer: TargetAnswer): string {
  const pairs = isS3(answer)
    ? {
        AWS_ACCESS_KEY_ID: answer.AccessKeyId,
        AWS_SECRET_ACCESS_KEY: answer.SecretAccessKey,
        AWS_SESSION_TOKEN: answer.Token,
      }
    : { PGUSER: answer.dbUser, PGPASSWORD: answer.dbPassword };
  return Object.entries(pairs)
    .map(([name, value]) => `${name}=${singleQuoted(String(value))}`)
    .join('\n');
}

/** `credential_process` JSON for a Lake Formation answer; a Redshift answer as it is. */
export function processText(answer: TargetAnswer): string {
  if (!isS3(answer)) return JSON.stringify(answer);
  return JSON.stringify({
    Version: 1,
    AccessKeyId: answer.AccessKeyId,
    SecretAccessKey: answer.SecretAccessKey,
    SessionToken: answer.Token,
    Expiration: answer.Expiration,
  });
}

/** Why a credential cannot be written in a format; its message never holds a credential. */
export class SinkFormatError extends Error {
  override readonly name = 'SinkFormatError';
}

/** `value`, refused when a line-based file could not hold it (a line break). */
function oneLine(value: unknown, field: string): string {
  const text = String(value);
  if (/[\r\n]/.test(text))
    throw new SinkFormatError(`the credential's ${field} holds a line break`);
  return text;
}

/** An AWS shared credentials file with the one profile `profile`. */
export function awsCredentialsText(profile: string, answer: TargetAnswer): string {
  return [
    `# credcache: target ${profile}, expires ${oneLine(answer.Expiration, 'expiration')}; rewritten on every refresh`,
    `[${profile}]`,
    `aws_access_key_id = ${oneLine(answer.AccessKeyId, 'access key id')}`,
    `aws_secret_access_key = ${oneLine(answer.SecretAccessKey, 'secret access key')}`,
    `aws_session_token = ${oneLine(answer.Token, 'session token')}`,
    '',
  ].join('\n');
}

/** One field of a libpq password file: `:` and `\` each escaped with a `\`. */
export function pgpassField(value: string): string {
  return oneLine(value, 'pgpass field').replace(/[\\:]/g, (character) => `\\${character}`);
}

/** The libpq password-file line for any host and port; `*` for the database when none is set. */
export function pgpassText(dbName: string | undefined, answer: TargetAnswer): string {
  const database = dbName === undefined ? '*' : pgpassField(dbName);
  const user = pgpassField(String(answer.dbUser));
  return `*:*:${database}:${user}:${pgpassField(String(answer.dbPassword))}\n`;
}

/** The JSON text `GET /v1/targets/{name}` serves for a target holding `entry`. */
export function targetAnswerJson(entry: CacheEntry): string {
  const { issued } = entry;
  return entry.key.source === 'redshift_serverless'
    ? databaseCredentialsJson(
        issued.credentials as DatabaseCredentials,
        issued.expiration,
        issued.nextRefreshTime,
      )
    : containerCredentialsJson(issued.credentials as S3Credentials, issued.expiration);
}

/** What a sink in `format` for the target `name` (database `dbName`) holding `entry` contains. */
export function sinkText(
  format: SinkFormat,
  target: { readonly name: string; readonly dbName?: string | undefined },
  entry: CacheEntry,
): string {
  const json = targetAnswerJson(entry);
  const answer = JSON.parse(json) as TargetAnswer;
  switch (format) {
    case 'aws-credentials':
      return awsCredentialsText(target.name, answer);
    case 'env':
      return `${envText(answer)}\n`;
    case 'json':
      return `${json}\n`;
    case 'process':
      return `${processText(answer)}\n`;
    case 'pgpass':
      return pgpassText(target.dbName, answer);
  }
}
