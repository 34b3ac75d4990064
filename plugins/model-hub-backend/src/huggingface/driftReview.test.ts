import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import {
  createFixtureHub,
  createMockHfServer,
  FIXTURE_REPOS,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import { ApprovalsService } from '../approvals/ApprovalsService';
import { readApprovalsConfig } from '../approvals/config';
import { DatabaseApprovalsStore } from '../approvals/DatabaseApprovalsStore';
import { createHubEnv } from './__testUtils__/hubEnv';
import { DriftPolicy, DriftReview } from './driftReview';
import {
  HF_DOWNLOAD_JOB,
  HF_SYNC_JOB,
  versionLabelOf,
} from './HuggingFaceSync';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const REPO = FIXTURE_REPOS.tinyLlm;
const ALICE = 'user:default/alice';
const BOB = 'user:default/bob';
const OWNER = 'group:default/ml-engineers';

describe.each(databases.eachSupportedId())('drift review (%s)', id => {
  let server: MockHfServer;
  let hub: MockHub;

  beforeEach(async () => {
    hub = createFixtureHub();
    server = await createMockHfServer({ hub });
  });

  afterEach(async () => {
    await server.close();
  });

  async function setup(
    policy: DriftPolicy = 'review',
    requiredChecks: string[] = [],
  ) {
    const knex = await databases.init(id);
    const e = await createHubEnv(knex, { endpoint: server.url });
    const approvalsStore = await DatabaseApprovalsStore.create({
      database: mockServices.database({ knex, migrations: { skip: true } }),
      skipMigrations: true,
    });
    const send = jest.fn(async (_: any) => {});
    const approvals = new ApprovalsService({
      store: approvalsStore,
      hubStore: e.store,
      config: readApprovalsConfig(
        new ConfigReader({
          modelHub: {
            approvals: { reviewerGroups: ['ml-reviewers'], requiredChecks },
          },
        }),
      ),
      logger: mockServices.logger.mock(),
      notifications: { send },
    });
    const drift = new DriftReview({
      db: knex,
      store: e.store,
      hfStore: e.hfStore,
      policy,
      logger: mockServices.logger.mock(),
      approvals,
      notifications: { send },
      downloadJobType: HF_DOWNLOAD_JOB,
    });

    // the repo is registered, synced, approved and active at its head
    const { model } = await e.sync.register({
      repoId: REPO,
      revision: 'main',
      owner: OWNER,
      createdBy: ALICE,
    });
    await e.sync.syncRepo({ repoId: REPO, modelId: model.id });
    const first = versionLabelOf(hub.headSha(REPO));
    const v1 = (await e.store.getVersion({ modelId: model.id, label: first }))!;
    for (const name of requiredChecks) {
      await approvalsStore.recordCheck({
        versionId: v1.id,
        name,
        status: 'passed',
        required: true,
      });
    }
    // the registration's sync job ran (no worker here)
    await knex('jobs')
      .where({ state: 'queued' })
      .update({ state: 'succeeded' });
    await approvals.transition({
      model,
      version: v1,
      action: 'submit',
      actor: ALICE,
      actorKind: 'user',
    });
    await approvals.transition({
      model,
      version: (await e.store.getVersion({ modelId: model.id, label: first }))!,
      action: 'approve',
      actor: BOB,
      actorKind: 'user',
    });
    await approvals.promote({
      model,
      version: (await e.store.getVersion({ modelId: model.id, label: first }))!,
      actor: ALICE,
    });
    send.mockClear();
    return { knex, e, approvals, approvalsStore, drift, send, model, first };
  }

  /** Pushes a commit upstream and runs what the scheduled sync and its job do. */
  async function drifted(s: Awaited<ReturnType<typeof setup>>) {
    const previous = hub.headSha(REPO);
    hub.commit(REPO, {
      files: [{ path: 'extra/notes.txt', content: 'new upstream file\n' }],
      delete: ['tokenizer.json'],
      title: 'Add notes',
    });
    const head = hub.headSha(REPO);
    const scheduled = await s.e.sync.runScheduled();
    expect(scheduled).toMatchObject({ checked: 1, drifted: 1, failed: 0 });
    const jobs = await s.e.store.listJobs({
      offset: 0,
      limit: 10,
      type: HF_SYNC_JOB,
      state: ['queued'],
      modelId: s.model.id,
    });
    const driftJobs = jobs.items.filter(j => j.params.drift === true);
    expect(driftJobs).toHaveLength(1);
    expect(driftJobs[0].params).toMatchObject({ repo: REPO, revision: 'main' });
    // a second run while the job waits queues no second sync
    await s.e.sync.runScheduled();
    const again = await s.e.store.listJobs({
      offset: 0,
      limit: 10,
      type: HF_SYNC_JOB,
      state: ['queued'],
      modelId: s.model.id,
    });
    expect(again.items.filter(j => j.params.drift === true)).toHaveLength(1);

    // what the sync job's executor runs (setup.ts)
    const result = await s.e.sync.syncRepo({
      repoId: REPO,
      revision: 'main',
      modelId: s.model.id,
    });
    expect(result.drift).toEqual({
      previousCommit: previous,
      versionLabel: versionLabelOf(head),
    });
    await s.drift.recordDrift({
      modelId: s.model.id,
      versionLabel: result.drift!.versionLabel,
      commit: result.commit,
      previousCommit: result.drift!.previousCommit,
    });
    return { previous, head, label: versionLabelOf(head) };
  }

  it('review: submits the drift version with the diff against the active version and notifies', async () => {
    const s = await setup('review');
    const { head, previous, label } = await drifted(s);

    const version = (await s.e.store.getVersion({
      modelId: s.model.id,
      label,
    }))!;
    expect(version).toMatchObject({ state: 'in_review', resolvedCommit: head });

    // the diff against the active approved version, from the synced lists
    const diff = await s.approvals.diff(s.model, version, s.first);
    expect(diff.base).toEqual({ label: s.first, state: 'approved' });
    expect(diff.files.added.map(f => f.path)).toEqual(['extra/notes.txt']);
    expect(diff.files.removed.map(f => f.path)).toEqual(['tokenizer.json']);
    expect(diff.files.changed).toEqual([]);
    expect(diff.files.unchanged).toBeGreaterThan(0);

    // notified: owner and reviewers, with the diff
    const drift = s.send.mock.calls
      .map(c => c[0])
      .find(n => n.payload.topic === 'model-hub:drift');
    expect(drift.recipients.entityRef).toEqual([
      OWNER,
      'group:default/ml-reviewers',
    ]);
    expect(drift.payload.title).toBe(`Upstream change: ${REPO} ${label}`);
    expect(drift.payload.description).toContain(`against ${s.first}`);
    expect(drift.payload.description).toContain('+extra/notes.txt');
    expect(drift.payload.description).toContain('-tokenizer.json');
    // and the submission's own notification (review requested)
    expect(
      s.send.mock.calls.some(c =>
        c[0].payload.title.startsWith('Review requested'),
      ),
    ).toBe(true);

    // the review queue holds it, submitted by the sync
    const queue = await s.approvalsStore.listReviewQueue({
      offset: 0,
      limit: 10,
    });
    expect(queue.items.map(i => i.label)).toContain(label);

    // the model page's sync state
    const sync = await s.drift.describe(s.model);
    expect(sync).toMatchObject({
      repoId: REPO,
      revision: 'main',
      drift: false,
      lastSyncedCommit: head,
      onDrift: 'review',
      driftVersion: {
        label,
        state: 'in_review',
        commit: head,
        previousCommit: previous,
        baseLabel: s.first,
        policy: 'review',
        status: 'submitted',
      },
    });
    expect(sync!.lastError).toBeUndefined();

    // the audit trail
    const events = await s
      .knex('audit_events')
      .where({ model_ref: s.model.entityRef, version_label: label })
      .orderBy('id');
    expect(events.map(e => [e.event_id, e.actor])).toEqual([
      ['huggingface-drift', 'huggingface-sync'],
      ['version-submit', 'huggingface-sync'],
    ]);
    expect(JSON.parse(events[0].meta)).toMatchObject({
      commit: head,
      previousCommit: previous,
      policy: 'review',
      baseLabel: s.first,
    });

    // recording the same version again changes nothing
    await s.drift.recordDrift({
      modelId: s.model.id,
      versionLabel: label,
      commit: head,
      previousCommit: previous,
    });
    expect(
      await s.knex('hf_drift_versions').count({ n: '*' }).first(),
    ).toMatchObject({
      n: expect.anything(),
    });
    expect(
      Number((await s.knex('hf_drift_versions').count({ n: '*' }).first())!.n),
    ).toBe(1);
  });

  it('review: waits for the downloads and the required checks, blocks on a failed one', async () => {
    const s = await setup('review', ['model-hub.format']);
    // a download of the drift version is queued before the drift is recorded
    const previous = hub.headSha(REPO);
    hub.commit(REPO, { files: [{ path: 'b.txt', content: 'b\n' }] });
    const result = await s.e.sync.syncRepo({
      repoId: REPO,
      modelId: s.model.id,
    });
    const label = result.drift!.versionLabel;
    const version = (await s.e.store.getVersion({
      modelId: s.model.id,
      label,
    }))!;
    const jobId = await s.e.queue.enqueue({
      type: HF_DOWNLOAD_JOB,
      modelId: s.model.id,
      versionId: version.id,
      createdBy: 'huggingface-sync',
    });
    await s.drift.recordDrift({
      modelId: s.model.id,
      versionLabel: label,
      commit: result.commit,
      previousCommit: previous,
    });
    expect((await s.drift.describe(s.model))!.driftVersion).toMatchObject({
      status: 'awaiting_files',
      state: 'draft',
    });

    // the download ended, the check is missing: still waiting, with why
    await s.drift.advance({ versionId: version.id, finishedJobId: jobId });
    expect((await s.drift.describe(s.model))!.driftVersion).toMatchObject({
      status: 'awaiting_files',
      detail: 'Waiting for checks: model-hub.format (missing)',
    });

    // the check fails: blocked, notified, not submitted
    await s.approvalsStore.recordCheck({
      versionId: version.id,
      name: 'model-hub.format',
      status: 'failed',
      required: true,
      summary: 'not a valid file',
    });
    await s.drift.advance({ finishedJobId: jobId });
    const blocked = (await s.drift.describe(s.model))!.driftVersion!;
    expect(blocked).toMatchObject({ status: 'blocked', state: 'draft' });
    expect(blocked.detail).toContain('model-hub.format');
    expect(
      s.send.mock.calls.some(c =>
        c[0].payload.title.startsWith('Upstream change blocked'),
      ),
    ).toBe(true);
  });

  it('review: submits once the check passes after the download', async () => {
    const s = await setup('review', ['model-hub.format']);
    const previous = hub.headSha(REPO);
    hub.commit(REPO, { files: [{ path: 'c.txt', content: 'c\n' }] });
    const result = await s.e.sync.syncRepo({
      repoId: REPO,
      modelId: s.model.id,
    });
    const label = result.drift!.versionLabel;
    const version = (await s.e.store.getVersion({
      modelId: s.model.id,
      label,
    }))!;
    const jobId = await s.e.queue.enqueue({
      type: HF_DOWNLOAD_JOB,
      modelId: s.model.id,
      versionId: version.id,
      createdBy: 'huggingface-sync',
    });
    await s.drift.recordDrift({
      modelId: s.model.id,
      versionLabel: label,
      commit: result.commit,
      previousCommit: previous,
    });
    await s.approvalsStore.recordCheck({
      versionId: version.id,
      name: 'model-hub.format',
      status: 'passed',
      required: true,
    });
    // the download job still runs: nothing happens
    expect(await s.drift.advance()).toEqual({ submitted: 0 });
    // it ended: submitted
    expect(await s.drift.advance({ finishedJobId: jobId })).toEqual({
      submitted: 1,
    });
    expect(
      (await s.e.store.getVersion({ modelId: s.model.id, label }))!.state,
    ).toBe('in_review');
  });

  it('a failed download marks the drift version failed', async () => {
    const s = await setup('review');
    const previous = hub.headSha(REPO);
    hub.commit(REPO, { files: [{ path: 'd.txt', content: 'd\n' }] });
    const result = await s.e.sync.syncRepo({
      repoId: REPO,
      modelId: s.model.id,
    });
    const version = (await s.e.store.getVersion({
      modelId: s.model.id,
      label: result.drift!.versionLabel,
    }))!;
    const jobId = await s.e.queue.enqueue({
      type: HF_DOWNLOAD_JOB,
      modelId: s.model.id,
      versionId: version.id,
      createdBy: 'huggingface-sync',
    });
    await s
      .knex('jobs')
      .where({ id: jobId })
      .update({ state: 'failed', error: 'upstream 500' });
    await s.drift.recordDrift({
      modelId: s.model.id,
      versionLabel: version.label,
      commit: result.commit,
      previousCommit: previous,
    });
    const info = (await s.drift.describe(s.model))!.driftVersion!;
    expect(info.status).toBe('failed');
    expect(info.detail).toContain('upstream 500');
    expect(
      (await s.e.store.getVersion({
        modelId: s.model.id,
        label: version.label,
      }))!.state,
    ).toBe('draft');
  });

  it('notify: a draft and a notification; ignore: a draft only', async () => {
    const notify = await setup('notify');
    const n = await drifted(notify);
    expect(
      (await notify.e.store.getVersion({
        modelId: notify.model.id,
        label: n.label,
      }))!.state,
    ).toBe('draft');
    expect(notify.send.mock.calls.map(c => c[0].payload.topic)).toEqual([
      'model-hub:drift',
    ]);
    expect(
      (await notify.drift.describe(notify.model))!.driftVersion,
    ).toMatchObject({
      status: 'notified',
      policy: 'notify',
    });

    await server.close();
    hub = createFixtureHub();
    server = await createMockHfServer({ hub });
    const ignore = await setup('ignore');
    const i = await drifted(ignore);
    expect(
      (await ignore.e.store.getVersion({
        modelId: ignore.model.id,
        label: i.label,
      }))!.state,
    ).toBe('draft');
    expect(ignore.send).not.toHaveBeenCalled();
    expect(
      (await ignore.drift.describe(ignore.model))!.driftVersion,
    ).toMatchObject({
      status: 'ignored',
    });
  });

  it('records a failed upstream check as lastError, cleared by the next good check', async () => {
    const s = await setup('review');
    const fault = hub.script({
      match: { method: 'GET', path: `/api/models/${REPO}/revision/main` },
      fault: { status: 404, message: 'Repository Not Found' },
    });
    const failed = await s.e.sync.runScheduled();
    expect(failed.failed).toBe(1);
    const info = (await s.drift.describe(s.model))!;
    expect(info.syncState).toBe('failed');
    expect(info.lastError).toEqual(expect.any(String));
    expect(info.lastErrorAt).toEqual(expect.any(String));
    // the jobs page lists the failing registrations
    const failing = await s.e.hfStore.listRepos({
      offset: 0,
      limit: 10,
      syncState: ['failed'],
    });
    expect(failing.items.map(r => [r.repoId, r.lastErrorAt])).toEqual([
      [REPO, info.lastErrorAt],
    ]);

    fault.remove();
    const ok = await s.e.sync.runScheduled();
    expect(ok).toMatchObject({ checked: 1, failed: 0, drifted: 0 });
    const cleared = (await s.drift.describe(s.model))!;
    expect(cleared.syncState).toBe('synced');
    expect(cleared.lastError).toBeUndefined();
    expect(cleared.lastErrorAt).toBeUndefined();
    expect(
      (await s.e.hfStore.listRepos({ offset: 0, limit: 10, syncState: ['failed'] }))
        .totalCount,
    ).toBe(0);
  });

  it('a sync of another revision than the tracked one is no drift', async () => {
    const s = await setup('review');
    const result = await s.e.sync.syncRepo({
      repoId: REPO,
      revision: 'v1.0',
      modelId: s.model.id,
    });
    expect(result.drift).toBeUndefined();
  });
});
