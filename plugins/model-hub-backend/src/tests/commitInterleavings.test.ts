import { createHash } from 'node:crypto';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { DatabaseApprovalsStore } from '../approvals/DatabaseApprovalsStore';
import { DEFAULT_APPROVAL_POLICY } from '../approvals/config';
import { TransitionAction } from '../approvals/transitions';
import { contentDigest } from '../database/contentDigest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { HubVersion, VersionState } from '../database/types';
import { servableVersions } from '../mirror/activeVersion';

jest.setTimeout(180_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

/** mulberry32: a small seeded generator, so that a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.MODEL_HUB_INTERLEAVING_SEED ?? Date.now());
/**
 * Rounds of three concurrent operations: 1,000 on SQLite (one writer at a
 * time, in arrival order) and 500 more on PostgreSQL, where they overlap
 * over separate connections.
 */
const ROUNDS: Record<string, number> = { SQLITE_3: 1000, POSTGRES_15: 500 };
const VERSIONS = 4;
const PATHS = ['a.bin', 'b.bin', 'c.bin', 'd/e.json'];
const USERS = {
  author: 'user:default/alice',
  uploader: 'user:default/carol',
  reviewer: 'user:default/bob',
};
const FROZEN: VersionState[] = ['in_review', 'approved', 'deprecated'];

type Op =
  | { type: 'add'; version: number; path: string; content: number }
  | { type: 'remove'; version: number; path: string }
  | { type: 'transition'; version: number; action: TransitionAction };

const ACTIONS: TransitionAction[] = [
  'submit',
  'approve',
  'request_changes',
  'reject',
  'deprecate',
  'revoke',
];

/*
 * Uploads, deletes and lifecycle transitions of a few versions, in random
 * interleavings: each round runs three operations at once (on PostgreSQL
 * over separate connections, so that they really overlap; SQLite runs one
 * writer at a time in whatever order the operations arrive), then checks
 * the invariants of the one commit path and content-bound approvals.
 */
describe.each(databases.eachSupportedId())('interleavings (%s)', id => {
  it(`keeps approved content immutable over ${ROUNDS[id]} interleavings`, async () => {
    // eslint-disable-next-line no-console
    console.log(
      `interleavings (${id}): seed ${SEED} (replay with MODEL_HUB_INTERLEAVING_SEED=${SEED})`,
    );
    const random = rng(SEED);
    // the checks are not what this test is about
    const policy = { ...DEFAULT_APPROVAL_POLICY, requiredChecks: [] };
    const pick = <T>(items: readonly T[]): T =>
      items[Math.floor(random() * items.length)];
    const knex: Knex = await databases.init(id);
    const database = mockServices.database({
      knex,
      migrations: { skip: false },
    });
    const store = await DatabaseModelHubStore.create({ database });
    const approvals = await DatabaseApprovalsStore.create({
      database,
      skipMigrations: true,
    });
    const model = await store.createModel({
      namespace: 'default',
      name: 'interleaved',
      type: 'llm',
      lifecycle: 'experimental',
      owner: USERS.author,
      sourceType: 'upload',
      tags: [],
      createdBy: USERS.author,
    });
    let created = 0;
    const newVersion = () =>
      store.createVersion({
        modelId: model.id,
        label: `v${created++}`,
        sourceType: 'upload',
        createdBy: USERS.author,
      });
    // the versions the operations pick from; one that ends (rejected or
    // archived) is replaced by a new draft
    const versions: HubVersion[] = [];
    for (let i = 0; i < VERSIONS; i++) {
      versions.push(await newVersion());
    }
    const blob = (content: number) => {
      const sha256 = createHash('sha256').update(`c${content}`).digest('hex');
      return { sha256, size: content + 1, location: `test/${sha256}` };
    };

    const run = async (op: Op): Promise<string> => {
      const version = versions[op.version];
      try {
        if (op.type === 'add') {
          await store.addFile({
            versionId: version.id,
            path: op.path,
            kind: 'other',
            blob: blob(op.content),
            createdBy: USERS.uploader,
          });
        } else if (op.type === 'remove') {
          await store.removeFile({ versionId: version.id, path: op.path });
        } else {
          await approvals.applyTransition({
            versionId: version.id,
            action: op.action,
            actor: op.action === 'submit' ? USERS.author : USERS.reviewer,
            actorKind: 'user',
            comment: 'interleaved',
            policy,
          });
        }
        return 'ok';
      } catch (error) {
        const name = (error as Error).name;
        // refusals are expected; anything else is a bug
        if (!['ConflictError', 'NotFoundError'].includes(name)) {
          throw error;
        }
        return name;
      }
    };

    const randomOp = (): Op => {
      const version = Math.floor(random() * VERSIONS);
      const r = random();
      if (r < 0.45) {
        return {
          type: 'add',
          version,
          path: pick(PATHS),
          content: Math.floor(random() * 6),
        };
      }
      if (r < 0.6) {
        return { type: 'remove', version, path: pick(PATHS) };
      }
      return { type: 'transition', version, action: pick(ACTIONS) };
    };

    // the files each version had when it was last seen frozen (in review,
    // approved or deprecated): they may not change while it stays frozen
    const frozen = new Map<string, { state: string; digest: string }>();
    const outcomes: Record<string, number> = {};
    let approvedSeen = 0;
    for (let round = 0; round < ROUNDS[id]; round++) {
      const ops = [randomOp(), randomOp(), randomOp()];
      const results = await Promise.all(ops.map(run));
      ops.forEach((op, i) => {
        const key = `${op.type === 'transition' ? op.action : op.type}:${
          results[i]
        }`;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
      });

      // the state after the round, in three queries
      const now = await store.listVersions({ modelId: model.id });
      const fileRows = await knex('version_files')
        .whereIn(
          'version_id',
          now.map(v => v.id),
        )
        .select('version_id', 'path', 'sha256', 'size');
      const submissionRows = await knex('version_submissions')
        .whereIn(
          'version_id',
          now.map(v => v.id),
        )
        .orderBy('round', 'asc')
        .select('version_id', 'content_digest');
      const filesOf = (versionId: string) =>
        fileRows.filter(f => f.version_id === versionId);
      // every broken invariant, named; the round must have none
      const violations: string[] = [];
      const check = (ok: boolean, what: string, label: string) => {
        if (!ok) {
          violations.push(`seed ${SEED}, round ${round}, ${label}: ${what}`);
        }
      };
      for (const v of now) {
        const digest = contentDigest(filesOf(v.id));
        const label = `${v.label} (${v.state})`;
        check(
          v.contentDigest === digest,
          'the stored digest is the digest of the files',
          label,
        );
        const before = frozen.get(v.id);
        if (FROZEN.includes(v.state)) {
          // a frozen version's files never change: from in review on, until
          // a reviewer sends it back (changes requested)
          check(
            !before ||
              !FROZEN.includes(before.state as VersionState) ||
              before.digest === digest,
            `the files changed while frozen (was ${before?.state})`,
            label,
          );
          frozen.set(v.id, { state: v.state, digest });
        } else if (v.state === 'rejected' || v.state === 'archived') {
          check(
            !before || before.digest === digest,
            'the files changed after the review',
            label,
          );
        } else {
          frozen.delete(v.id);
        }
        if (v.state === 'approved' || v.state === 'deprecated') {
          approvedSeen += 1;
          const submitted = submissionRows.filter(r => r.version_id === v.id);
          check(
            v.approvedDigest === digest,
            'the files are the approved ones',
            label,
          );
          check(
            submitted[submitted.length - 1]?.content_digest === digest,
            'the files are the submitted ones',
            label,
          );
        }
      }
      // the mirror serves only versions whose files match their approval
      for (const v of servableVersions(now)) {
        check(
          contentDigest(filesOf(v.id)) === v.approvedDigest,
          'the mirror serves other files than the approved ones',
          v.label,
        );
      }
      // the counts the API shows are those of the rows
      for (const v of now) {
        check(filesOf(v.id).length === v.fileCount, 'fileCount', v.label);
      }
      expect(violations).toEqual([]);
      for (let i = 0; i < versions.length; i++) {
        const state = now.find(v => v.id === versions[i].id)?.state;
        if (state === 'rejected' || state === 'archived') {
          versions[i] = await newVersion();
        }
      }
    }
    // eslint-disable-next-line no-console
    console.log(
      `interleavings (${id}): ${JSON.stringify(
        outcomes,
      )}; approved versions seen ${approvedSeen} times`,
    );
    // the random walk reached every kind of outcome that matters
    expect(outcomes['add:ok']).toBeGreaterThan(0);
    expect(outcomes['add:ConflictError']).toBeGreaterThan(0);
    expect(outcomes['approve:ok']).toBeGreaterThan(0);
    expect(approvedSeen).toBeGreaterThan(0);
    expect(outcomes['submit:ok']).toBeGreaterThan(0);
  });
});
