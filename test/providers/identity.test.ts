/** The words for each source of the SDK's default chain, read from the identity's `$source` flags. */
import assert from 'node:assert/strict';
import { firstLine, identitySource } from '../../src/providers/identity.js';

const identity = (flags?: Record<string, string>) => ({
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'secret',
  ...(flags && { $source: flags }),
});

describe('identitySource', () => {
  it('names the provider that marked the identity, with the profile for the shared config', () => {
    assert.equal(
      identitySource(identity({ CREDENTIALS_ENV_VARS: 'g' }), {}),
      'environment variables',
    );
    assert.equal(
      identitySource(identity({ CREDENTIALS_PROFILE: 'n' }), { AWS_PROFILE: 'analytics' }),
      'shared config profile analytics',
    );
    assert.equal(
      identitySource(identity({ CREDENTIALS_PROFILE: 'n' }), {}),
      'shared config profile default',
    );
    assert.equal(
      identitySource(
        identity({ CREDENTIALS_PROFILE_SOURCE_PROFILE: 'o', CREDENTIALS_PROFILE: 'n' }),
        {},
      ),
      'role assumed by shared config profile default',
    );
    assert.equal(
      identitySource(identity({ CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: 'h' }), {}),
      'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)',
    );
    assert.equal(
      identitySource(identity({ CREDENTIALS_HTTP: 'z' }), {}),
      'container credentials endpoint',
    );
  });

  it('reads an unmarked identity as the remote providers that set no flag', () => {
    assert.equal(identitySource(identity(), {}), 'instance metadata');
    assert.equal(
      identitySource(identity(), { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' }),
      'container credentials endpoint',
    );
  });

  it('never answers with anything of the identity itself', () => {
    assert.doesNotMatch(identitySource(identity({ CREDENTIALS_ENV_VARS: 'g' }), {}), /AKIA|secret/);
  });
});

describe('firstLine', () => {
  it("keeps the first line of an SDK error's message", () => {
    assert.equal(
      firstLine(new Error('Could not load credentials\n  at provider 1\n  at provider 2')),
      'Could not load credentials',
    );
  });
});
