/**
 * The four emulated operations: what each service is on the wire, and what each operation
 * answers for a valid request.
 */
import { DEFAULT_DB_NAME, type LoginDatabase } from './database.js';
import { EmulatorError } from './errors.js';
import { tableOfLocation, vendedS3Path } from './locations.js';
import {
  type EmulatorState,
  type OperationName,
  matchesPattern,
  newAccessKeyId,
  newPassword,
  newSecret,
} from './state.js';
import {
  type TableCredentialsInput,
  validateDataLocationCredentials,
  validatePartitionCredentials,
  validateRedshiftCredentials,
  validateTableCredentials,
} from './validation.js';

export interface ServiceWire {
  /** SigV4 signing name. */
  readonly signingName: string;
  readonly contentType: string;
  /** Error for a body that is not a JSON object of the right member types. */
  readonly serializationError: string;
  /** Default error of `error` faults. */
  readonly internalError: string;
  /** Error for a resource on the `missing` list. */
  readonly notFoundError: string;
  /** Status of the answer to an unsigned request. */
  readonly missingAuthStatus: number;
}

export const LAKE_FORMATION: ServiceWire = {
  signingName: 'lakeformation',
  contentType: 'application/json',
  serializationError: 'InvalidInputException',
  internalError: 'InternalServiceException',
  notFoundError: 'EntityNotFoundException',
  missingAuthStatus: 403,
};

export const REDSHIFT_SERVERLESS: ServiceWire = {
  signingName: 'redshift-serverless',
  contentType: 'application/x-amz-json-1.1',
  serializationError: 'SerializationException',
  internalError: 'InternalServerException',
  notFoundError: 'ResourceNotFoundException',
  missingAuthStatus: 400,
};

/** Default lifetimes when the request names none (the services' documented defaults). */
export const DEFAULT_LAKE_FORMATION_DURATION_SECONDS = 3600;
export const DEFAULT_REDSHIFT_DURATION_SECONDS = 900;

export interface CallContext {
  readonly state: EmulatorState;
  readonly nowMs: number;
  /** Access key id that signed the request. */
  readonly callerAccessKeyId: string;
  /** Where Redshift Serverless logins are installed, when the emulator has a database. */
  readonly database?: LoginDatabase | undefined;
  /** Reports a failure that the caller only sees as the service's internal error. */
  readonly logError?: ((message: string) => void) | undefined;
}

export interface Operation {
  readonly name: OperationName;
  readonly service: ServiceWire;
  handle(
    body: Record<string, unknown>,
    context: CallContext,
  ): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** Epoch seconds with millisecond precision: the wire form of timestamps in both protocols. */
const epochSeconds = (ms: number): number => Math.round(ms) / 1000;

function lifetimeMs(state: EmulatorState, requestedSeconds: number | undefined, fallback: number) {
  return (state.settings.credentialLifetimeSeconds ?? requestedSeconds ?? fallback) * 1000;
}

/** Applies the `deny` and `missing` lists of the control API to a resource name. */
function checkAccess(state: EmulatorState, service: ServiceWire, resource: string, what: string) {
  if (state.settings.deny.some((pattern) => matchesPattern(pattern, resource))) {
    throw new EmulatorError(
      'AccessDeniedException',
      `Insufficient permissions on ${what} ${resource}`,
    );
  }
  if (state.settings.missing.some((pattern) => matchesPattern(pattern, resource))) {
    throw new EmulatorError(service.notFoundError, `${what} ${resource} not found`);
  }
}

export { vendedS3Path } from './locations.js';

/** The members of a request that issue a Lake Formation credential. */
interface S3CredentialsRequest {
  readonly DurationSeconds?: number;
  readonly AdditionalAuditContext?: string;
}

function issueS3Credentials(
  operation: OperationName,
  input: S3CredentialsRequest,
  scope: Record<string, unknown>,
  context: CallContext,
) {
  const { state, nowMs } = context;
  const expiration =
    nowMs + lifetimeMs(state, input.DurationSeconds, DEFAULT_LAKE_FORMATION_DURATION_SECONDS);
  const AccessKeyId = newAccessKeyId(state.nextSequence());
  const SecretAccessKey = newSecret(30);
  const SessionToken = `IQoJb3JpZ2luX2VtdWxhdG9y${newSecret(180)}`;
  state.remember({
    id: AccessKeyId,
    operation,
    scope,
    ...(input.AdditionalAuditContext !== undefined && {
      auditContext: input.AdditionalAuditContext,
    }),
    callerAccessKeyId: context.callerAccessKeyId,
    issuedAt: nowMs,
    expiration,
    secretAccessKey: SecretAccessKey,
    sessionToken: SessionToken,
    signedCalls: 0,
  });
  return { AccessKeyId, SecretAccessKey, SessionToken, Expiration: epochSeconds(expiration) };
}

const tableScope = (input: TableCredentialsInput) => ({
  TableArn: input.TableArn,
  Permissions: input.Permissions,
  SupportedPermissionTypes: input.SupportedPermissionTypes,
  DurationSeconds: input.DurationSeconds ?? null,
});

export const OPERATION_HANDLERS: Readonly<Record<OperationName, Operation>> = {
  GetTemporaryGlueTableCredentials: {
    name: 'GetTemporaryGlueTableCredentials',
    service: LAKE_FORMATION,
    handle(body, context) {
      const input = validateTableCredentials(body);
      checkAccess(context.state, LAKE_FORMATION, input.TableArn, 'table');
      const credentials = issueS3Credentials(this.name, input, tableScope(input), context);
      return { ...credentials, VendedS3Path: vendedS3Path(input.TableArn) };
    },
  },
  GetTemporaryGluePartitionCredentials: {
    name: 'GetTemporaryGluePartitionCredentials',
    service: LAKE_FORMATION,
    handle(body, context) {
      const input = validatePartitionCredentials(body);
      checkAccess(context.state, LAKE_FORMATION, input.TableArn, 'table');
      const scope = { ...tableScope(input), Partition: { Values: input.PartitionValues } };
      return issueS3Credentials(this.name, input, scope, context);
    },
  },
  GetTemporaryDataLocationCredentials: {
    name: 'GetTemporaryDataLocationCredentials',
    service: LAKE_FORMATION,
    handle(body, context) {
      const input = validateDataLocationCredentials(body);
      for (const location of input.DataLocations) {
        const table = tableOfLocation(location);
        if (!table) {
          throw new EmulatorError(
            'AccessDeniedException',
            `Insufficient Lake Formation permission(s) on ${location.slice(0, 200)}: it lies under no table's location`,
          );
        }
        // deny/missing patterns name the location itself or the table it lies under.
        checkAccess(context.state, LAKE_FORMATION, location, 'data location');
        checkAccess(context.state, LAKE_FORMATION, table.tableArn, 'table');
      }
      const scope = {
        DataLocations: input.DataLocations,
        CredentialsScope: input.CredentialsScope,
        DurationSeconds: input.DurationSeconds ?? null,
      };
      return {
        Credentials: issueS3Credentials(this.name, input, scope, context),
        AccessibleDataLocations: input.DataLocations,
        CredentialsScope: input.CredentialsScope,
      };
    },
  },
  GetCredentials: {
    name: 'GetCredentials',
    service: REDSHIFT_SERVERLESS,
    async handle(body, context) {
      const { state, nowMs } = context;
      const input = validateRedshiftCredentials(body);
      const resource = input.workgroupName ?? input.customDomainName ?? '';
      checkAccess(
        state,
        REDSHIFT_SERVERLESS,
        resource,
        input.workgroupName ? 'workgroup' : 'custom domain',
      );
      const lifetime = lifetimeMs(state, input.durationSeconds, DEFAULT_REDSHIFT_DURATION_SECONDS);
      const expiration = nowMs + lifetime;
      const fraction = state.settings.nextRefreshFraction;
      const nextRefreshTime = fraction === null ? undefined : nowMs + fraction * lifetime;
      const dbPassword = newPassword(state.nextSequence());
      const dbUser = 'IAMR:credcache-emulator';
      if (context.database) {
        // Before the answer: an issued credential logs in at once.
        const dbName = input.dbName ?? DEFAULT_DB_NAME;
        try {
          await context.database.install({ dbUser, dbPassword, expirationMs: expiration, dbName });
        } catch (error) {
          context.logError?.(
            `GetCredentials: could not install role ${JSON.stringify(dbUser)} for database ${JSON.stringify(dbName)}: ${error instanceof Error ? error.message : String(error)}`,
          );
          throw new EmulatorError(REDSHIFT_SERVERLESS.internalError, 'An internal error occurred');
        }
      }
      state.remember({
        id: dbPassword,
        operation: this.name,
        scope: {
          ...(input.workgroupName !== undefined && { workgroupName: input.workgroupName }),
          ...(input.customDomainName !== undefined && { customDomainName: input.customDomainName }),
          dbName: input.dbName ?? null,
          durationSeconds: input.durationSeconds ?? null,
        },
        callerAccessKeyId: context.callerAccessKeyId,
        issuedAt: nowMs,
        expiration,
        ...(nextRefreshTime !== undefined && { nextRefreshTime }),
        signedCalls: 0,
      });
      return {
        dbUser,
        dbPassword,
        expiration: epochSeconds(expiration),
        ...(nextRefreshTime !== undefined && { nextRefreshTime: epochSeconds(nextRefreshTime) }),
      };
    },
  },
};
