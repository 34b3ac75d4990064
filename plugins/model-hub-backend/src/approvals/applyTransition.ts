import {
  ConflictError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import { Knex } from 'knex';
import { VersionState } from '../database/types';
import { VersionsStore } from '../database/VersionsStore';
import { ActiveVersionsStore } from './ActiveVersionsStore';
import {
  ApplyTransitionOptions,
  TransitionResult,
  VersionCheck,
  VersionDecision,
} from './ApprovalsStore';
import { blockingChecks } from './checks';
import { ReviewStore } from './ReviewStore';
import { TRANSITIONS, TransitionAction } from './transitions';

/** Decisions only a signed-in user can make, never a service principal. */
const DECISIONS: TransitionAction[] = [
  'approve',
  'request_changes',
  'reject',
  'revoke',
];

/** The stores a transition writes through, in its one transaction. @internal */
export type TransitionDeps = {
  db: Knex;
  reviews: ReviewStore;
  activeVersions: ActiveVersionsStore;
  versions: Pick<VersionsStore, 'setState'>;
  listChecks(versionId: string, tx: Knex): Promise<VersionCheck[]>;
};

/**
 * Moves a version through its lifecycle in one transaction (see
 * `ApprovalsStore.applyTransition`): checks the state, the expected
 * revision, the required checks (submit), separation of duties and repeated
 * approvals (approve); records the submission or decision; clears the
 * active version of a rejected or archived version; moves the version where
 * its revision is unchanged.
 *
 * @internal
 */
export async function applyTransition(
  deps: TransitionDeps,
  options: ApplyTransitionOptions,
): Promise<TransitionResult> {
  const { action, actor, policy } = options;
  const rule = TRANSITIONS[action];
  const now = new Date();
  return deps.db.transaction(async tx => {
    // the row lock orders the transition with file commits (which lock
    // the same row) on PostgreSQL; SQLite runs one writer at a time
    const versionQuery = tx('model_versions')
      .where({ id: options.versionId })
      .first(
        'id',
        'model_id',
        'label',
        'state',
        'revision',
        'created_by',
        'manifest_digest',
        'content_digest',
      );
    if (tx.client.config.client === 'pg') {
      versionQuery.forUpdate();
    }
    const version = await versionQuery;
    if (!version) {
      throw new NotFoundError(`Version ${options.versionId} not found`);
    }
    const revision = Number(version.revision);
    if (
      options.expectedRevision !== undefined &&
      options.expectedRevision !== revision
    ) {
      throw new ConflictError(
        `Version ${version.label} is at revision ${revision}, not ${options.expectedRevision}; reload it and try again`,
      );
    }
    const from = version.state as VersionState;
    if (!rule.from.includes(from)) {
      throw new ConflictError(
        `Cannot ${action.replace('_', ' ')} version ${
          version.label
        }: it is ${from}; allowed from ${rule.from.join(' or ')}`,
      );
    }
    if (
      DECISIONS.includes(action) &&
      (options.actorKind ?? 'service') !== 'user'
    ) {
      throw new NotAllowedError(
        `Separation of duties: only a signed-in user can ${action.replace(
          '_',
          ' ',
        )} a version; ${actor} is a service principal`,
      );
    }
    const contentDigest: string | null = version.content_digest ?? null;
    const last = await deps.reviews.lastSubmission(version.id, tx);
    let round = last ? last.round : 0;
    let to = rule.to;
    let approvals: string[] = [];
    let clearedActive = false;

    const decide = (decision: VersionDecision['decision']) =>
      deps.reviews.addDecision(
        {
          versionId: version.id,
          reviewer: actor,
          decision,
          comment: options.comment,
          subjectDigest: version.manifest_digest ?? null,
          contentDigest,
          at: now,
          round,
        },
        tx,
      );

    if (action === 'submit') {
      const [checks, waivers] = await Promise.all([
        deps.listChecks(version.id, tx),
        deps.reviews.listWaivers({ versionId: version.id }, tx),
      ]);
      const blocking = blockingChecks({
        requiredChecks: policy.requiredChecks,
        checks,
        waivers,
        contentDigest: contentDigest ?? undefined,
      });
      if (blocking.length) {
        throw new ConflictError(
          `Version ${
            version.label
          } cannot be submitted: required checks have not passed: ${blocking
            .map(b => `${b.name} (${b.status})`)
            .join(', ')}; they must pass or be waived by an admin`,
        );
      }
      round += 1;
      await deps.reviews.addSubmission(
        {
          versionId: version.id,
          round,
          submittedBy: actor,
          comment: options.comment,
          at: now,
          contentDigest,
        },
        tx,
      );
    } else if (action === 'approve') {
      if (policy.separationOfDuties) {
        await assertNotAuthor(deps, tx, version, actor);
      }
      if (last?.contentDigest && last.contentDigest !== contentDigest) {
        throw new ConflictError(
          `The files of version ${version.label} changed after it was submitted (${last.contentDigest} submitted, ${contentDigest} now); it cannot be approved`,
        );
      }
      approvals = await deps.reviews.approversOfRound(version.id, round, tx);
      if (approvals.includes(actor)) {
        throw new ConflictError(
          `${actor} already approved version ${version.label} in this review round`,
        );
      }
      await decide('approve');
      approvals.push(actor);
      if (approvals.length < policy.requiredApprovals) {
        to = 'in_review';
      }
    } else if (
      action === 'request_changes' ||
      action === 'reject' ||
      action === 'revoke'
    ) {
      await decide(action);
    }

    if (to === 'rejected' || to === 'archived') {
      clearedActive = await deps.activeVersions.clear(
        { modelId: version.model_id, versionId: version.id, actor, at: now },
        tx,
      );
    }

    const updated = await deps.versions.setState(tx, {
      versionId: version.id,
      state: to,
      from,
      revision,
      now,
      // an approval is bound to the content it approved; the mirror,
      // the download route and deployments serve the version only
      // while its files still match
      approvedDigest:
        to === 'approved' && from !== 'approved' ? contentDigest : undefined,
    });
    if (!updated) {
      throw new ConflictError(
        `Version ${version.label} was changed concurrently; reload it and try again`,
      );
    }
    const result = { from, to, round, approvals, clearedActive };
    await options.onApplied?.(tx, { ...result, revision: revision + 1 });
    return result;
  });
}

/**
 * Separation of duties: the approver is neither the creator of the
 * version, nor anyone who submitted it, nor anyone who put a file into
 * it.
 */
async function assertNotAuthor(
  deps: TransitionDeps,
  tx: Knex.Transaction,
  version: { id: string; label: string; created_by: string },
  actor: string,
): Promise<void> {
  const deny = (role: string) =>
    new NotAllowedError(
      `Separation of duties: ${actor} ${role} version ${version.label} and cannot approve it`,
    );
  if (await deps.reviews.hasSubmitted(version.id, actor, tx)) {
    throw deny('submitted');
  }
  if (version.created_by === actor) {
    throw deny('created');
  }
  const contributed = await tx('version_contributors')
    .where({ version_id: version.id, principal: actor })
    .first('principal');
  if (contributed) {
    throw deny('uploaded files into');
  }
}
