/**
 * Structured logs: pino JSON lines. The daemon never passes a credential to the logger; the
 * redaction list is the second line of defence, covering every field name a secret travels
 * under (AWS, container-credentials and Redshift shapes, tokens, Authorization headers).
 */
import { type DestinationStream, type Logger, type LevelWithSilent, pino } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'SecretAccessKey',
  'SessionToken',
  'Token',
  'secretAccessKey',
  'sessionToken',
  'dbPassword',
  'token',
  'authorization',
  'Authorization',
  '*.SecretAccessKey',
  '*.SessionToken',
  '*.Token',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.dbPassword',
  '*.token',
  '*.authorization',
  '*.Authorization',
  '*.headers.authorization',
  'credentials',
  '*.credentials',
];

export function createLogger(
  level: LevelWithSilent = 'info',
  destination: DestinationStream = pino.destination({ dest: 1, sync: true }),
): Logger {
  return pino(
    {
      level,
      base: { service: 'credcache' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
