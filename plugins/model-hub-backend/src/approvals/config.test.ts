import { ConfigReader } from '@backstage/config';
import { policyForModel, readApprovalsConfig } from './config';

const read = (approvals?: object) =>
  readApprovalsConfig(
    new ConfigReader(approvals ? { modelHub: { approvals } } : {}),
  );

describe('readApprovalsConfig', () => {
  it('applies the defaults', () => {
    expect(read()).toEqual({
      defaults: {
        requiredApprovals: 1,
        reviewerGroups: [],
        separationOfDuties: true,
        requiredChecks: ['model-hub.format', 'model-hub.safety'],
        allowUnapprovedDownloadsFor: ['owners', 'reviewers'],
      },
      overrides: [],
      webhooks: [],
    });
    expect(read({}).defaults).toEqual(read().defaults);
  });

  it('reads policies, overrides and webhooks', () => {
    const config = read({
      requiredApprovals: 2,
      reviewerGroups: ['ml-reviewers', 'group:ops/Release-Managers'],
      separationOfDuties: false,
      requiredChecks: 'malware-scan',
      allowUnapprovedDownloadsFor: ['owners'],
      overrides: [
        { type: 'llm', requiredApprovals: 3 },
        {
          type: ['llm', 'vision'],
          lifecycle: 'experimental',
          requiredApprovals: 1,
          separationOfDuties: true,
        },
      ],
      webhooks: [
        {
          url: 'https://hooks.example.com/model-hub',
          secret: 'k',
          events: ['version.approved'],
          maxAttempts: 3,
          initialBackoff: { seconds: 2 },
          timeout: { seconds: 5 },
        },
        { url: 'http://127.0.0.1:9/x' },
      ],
    });
    expect(config).toEqual({
      defaults: {
        requiredApprovals: 2,
        reviewerGroups: [
          'group:default/ml-reviewers',
          'group:ops/release-managers',
        ],
        separationOfDuties: false,
        requiredChecks: ['malware-scan'],
        allowUnapprovedDownloadsFor: ['owners'],
      },
      overrides: [
        {
          match: { type: ['llm'], lifecycle: undefined },
          policy: { requiredApprovals: 3 },
        },
        {
          match: { type: ['llm', 'vision'], lifecycle: ['experimental'] },
          policy: { requiredApprovals: 1, separationOfDuties: true },
        },
      ],
      webhooks: [
        {
          url: 'https://hooks.example.com/model-hub',
          secret: 'k',
          events: ['version.approved'],
          maxAttempts: 3,
          initialBackoffMs: 2000,
          timeoutMs: 5000,
        },
        {
          url: 'http://127.0.0.1:9/x',
          secret: undefined,
          events: [],
          maxAttempts: 5,
          initialBackoffMs: 1000,
          timeoutMs: 10000,
        },
      ],
    });
    expect(
      policyForModel(config, { type: 'llm', lifecycle: 'production' }),
    ).toMatchObject({ requiredApprovals: 3, separationOfDuties: false });
    expect(
      policyForModel(config, { type: 'llm', lifecycle: 'experimental' }),
    ).toMatchObject({ requiredApprovals: 1, separationOfDuties: true });
    expect(
      policyForModel(config, { type: 'embedding', lifecycle: 'experimental' }),
    ).toEqual(config.defaults);
  });

  it('rejects impossible settings', () => {
    expect(() => read({ requiredApprovals: 0 })).toThrow(
      'modelHub.approvals.requiredApprovals must be an integer from 1 to 20, got 0',
    );
    expect(() => read({ allowUnapprovedDownloadsFor: ['everyone'] })).toThrow(
      "modelHub.approvals.allowUnapprovedDownloadsFor may contain owners and reviewers, got 'everyone'",
    );
    expect(() => read({ overrides: [{ requiredApprovals: 2 }] })).toThrow(
      'modelHub.approvals.overrides[0] must name a type or a lifecycle to match',
    );
    expect(() =>
      read({ overrides: [{ type: 'llm', requiredApprovals: 1.5 }] }),
    ).toThrow(/overrides\[0\]\.requiredApprovals/);
    expect(() => read({ webhooks: [{ url: 'ftp://x' }] })).toThrow(
      "modelHub.approvals.webhooks[0].url must be an http(s) URL, got 'ftp://x'",
    );
    expect(() =>
      read({ webhooks: [{ url: 'http://x', events: ['version.eaten'] }] }),
    ).toThrow(/unknown event 'version.eaten'/);
    expect(() =>
      read({ webhooks: [{ url: 'http://x', maxAttempts: 0 }] }),
    ).toThrow(
      'modelHub.approvals.webhooks[0].maxAttempts must be a positive integer',
    );
    expect(() => read({ reviewerGroups: ['group:'] })).toThrow(
      "modelHub.approvals.reviewerGroups has an invalid ref 'group:'",
    );
  });
});
