/**
 * The AWS region calls go to, resolved as the AWS SDK resolves it, with the SDK's own selectors
 * and shared-file loader: `upstream.region` (the file or `CREDCACHE_UPSTREAM_REGION`), then
 * `AWS_REGION`, then `AWS_DEFAULT_REGION` (the AWS CLI's variable, which credcache has always
 * read), then the `region` of the profile (`AWS_PROFILE`, else `default`) in the shared config
 * and credentials files (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`). The SDK's last
 * resort, the EC2 instance metadata service, is not asked: the answer must be known without the
 * network, at start and in `check-config` alike.
 */
import {
  NODE_REGION_CONFIG_FILE_OPTIONS,
  NODE_REGION_CONFIG_OPTIONS,
  loadConfig as loadSdkConfig,
} from '@smithy/core/config';

export interface Region {
  readonly name: string;
  /** Where it came from, for messages: `upstream.region`, `AWS_REGION`, `profile default`, … */
  readonly from: string;
}

/** The region, or undefined when nothing names one; an empty variable is a name of nothing. */
export async function resolveRegion(
  configured: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<Region | undefined> {
  if (configured !== undefined) return { name: configured, from: 'upstream.region' };
  const fromEnv = NODE_REGION_CONFIG_OPTIONS.environmentVariableSelector(env);
  if (fromEnv) return { name: fromEnv, from: 'AWS_REGION' };
  if (env.AWS_DEFAULT_REGION) return { name: env.AWS_DEFAULT_REGION, from: 'AWS_DEFAULT_REGION' };
  const profile = env.AWS_PROFILE || 'default';
  const fromFiles = await loadSdkConfig(
    {
      environmentVariableSelector: () => undefined,
      configFileSelector: NODE_REGION_CONFIG_OPTIONS.configFileSelector,
      default: () => undefined,
    },
    {
      ...NODE_REGION_CONFIG_FILE_OPTIONS,
      profile,
      ...(env.AWS_CONFIG_FILE && { configFilepath: env.AWS_CONFIG_FILE }),
      ...(env.AWS_SHARED_CREDENTIALS_FILE && { filepath: env.AWS_SHARED_CREDENTIALS_FILE }),
      // Read the files each time: a reload or a second check sees them as they are now.
      ignoreCache: true,
    },
  )();
  return fromFiles
    ? { name: fromFiles, from: `profile ${profile} in the AWS config files` }
    : undefined;
}
