import { HubModel, HubVersion } from '../database/types';
import { DownloadAuthorizer, DownloadCaller } from './downloadAuthorizer';

const model = {
  id: 'm',
  entityRef: 'model:default/llama',
  namespace: 'default',
  name: 'llama',
  owner: 'group:default/ml-engineers',
  type: 'llm',
  lifecycle: 'production',
} as HubModel;

const DIGEST = `sha256:${'a'.repeat(64)}`;

function version(state: HubVersion['state'], changed = false): HubVersion {
  return {
    id: 'v',
    label: 'v1',
    state,
    contentDigest: changed ? `sha256:${'b'.repeat(64)}` : DIGEST,
    approvedDigest: ['approved', 'deprecated'].includes(state)
      ? DIGEST
      : undefined,
  } as HubVersion;
}

/** A caller holding the given permissions, owning the given refs. */
function caller(
  permissions: string[],
  ownershipRefs: string[] = [],
): DownloadCaller & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    canRead: async () => {
      asked.push('read');
      return permissions.includes('read');
    },
    isAllowed: async permission => {
      asked.push(permission.name);
      return permissions.includes(permission.name);
    },
    ownershipRefs: async () => ownershipRefs,
  };
}

const DOWNLOAD = 'model-hub.artifact.download';
const REVIEW = 'model-hub.version.review';

describe('DownloadAuthorizer', () => {
  const authorizer = new DownloadAuthorizer();

  it('hides a model the caller may not read, before asking anything else', async () => {
    const c = caller([DOWNLOAD]);
    expect(await authorizer.check(c, model, version('approved'))).toEqual({
      reason: 'hidden',
      message: 'Model model:default/llama not found',
    });
    expect(c.asked).toEqual(['read']);
  });

  it('refuses a reader without the download permission', async () => {
    expect(
      await authorizer.check(caller(['read']), model, version('approved')),
    ).toEqual({
      reason: 'forbidden',
      message: `Not allowed: ${DOWNLOAD} on model:default/llama`,
    });
  });

  it('serves released versions with their approved files, and no version changed since', async () => {
    const c = caller(['read', DOWNLOAD]);
    expect(await authorizer.check(c, model)).toBeUndefined();
    expect(await authorizer.check(c, model, version('approved'))).toBe(
      undefined,
    );
    expect(await authorizer.check(c, model, version('deprecated'))).toBe(
      undefined,
    );
    expect(await authorizer.check(c, model, version('approved', true))).toEqual(
      expect.objectContaining({ reason: 'changed' }),
    );
  });

  it('serves unreleased versions to the audiences of the policy only', async () => {
    const draft = version('draft');
    expect(
      await authorizer.check(caller(['read', DOWNLOAD]), model, draft),
    ).toEqual({
      reason: 'unapproved',
      message:
        'Version v1 of model:default/llama is draft; only its owners and reviewers may download it until it is approved',
    });
    // owners, case-insensitively
    expect(
      await authorizer.check(
        caller(['read', DOWNLOAD], ['Group:default/ML-Engineers']),
        model,
        draft,
      ),
    ).toBeUndefined();
    // reviewers
    expect(
      await authorizer.check(caller(['read', DOWNLOAD, REVIEW]), model, draft),
    ).toBeUndefined();
    // a policy without audiences
    const closed = new DownloadAuthorizer({
      policyFor: () => ({ allowUnapprovedDownloadsFor: [] }),
    });
    expect(
      await closed.check(caller(['read', DOWNLOAD, REVIEW]), model, draft),
    ).toEqual({
      reason: 'unapproved',
      message:
        'Version v1 of model:default/llama is draft; nobody may download it until it is approved',
    });
  });

  it('asks nothing for anonymous callers the mirror lets in, and serves them released versions only', async () => {
    const anonymous = { ...caller([]), anonymous: true };
    expect(
      await authorizer.check(anonymous, model, version('approved')),
    ).toBeUndefined();
    expect(await authorizer.check(anonymous, model, version('draft'))).toEqual(
      expect.objectContaining({ reason: 'unapproved' }),
    );
    expect(anonymous.asked).toEqual([]);
  });
});
