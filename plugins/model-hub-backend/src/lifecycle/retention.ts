import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import { ModelHubStore } from '../database/ModelHubStore';
import { RetentionConfig } from './config';
import { ModelLifecycleStore } from './ModelLifecycleStore';
import type { ApprovalsService } from '../approvals/ApprovalsService';

/** The actor of the retention policy in the audit trail. */
export const RETENTION_ACTOR = 'model-hub:retention';

/** What a run of the retention policy did. @internal */
export type RetentionResult = {
  archived: number;
  releasedVersions: number;
  releasedFiles: number;
  releasedBytes: number;
  errors: number;
};

/**
 * Applies the retention policy once: deprecated versions beyond
 * `keepDeprecated` per model, or deprecated longer than `archiveAfter`, are
 * archived through the approvals workflow (the same transition, webhooks and
 * active-version handling as a reviewer's `archive`); then, with
 * `releaseArchivedFiles`, the files of archived versions are removed and
 * their blobs released to the garbage collection. Every step is audited.
 *
 * @internal
 */
export async function applyRetention(options: {
  config: RetentionConfig;
  lifecycle: ModelLifecycleStore;
  store: ModelHubStore;
  approvals: Pick<ApprovalsService, 'transition'>;
  auditor: AuditorService;
  logger: LoggerService;
  now?: Date;
}): Promise<RetentionResult> {
  const { config, lifecycle, store, auditor, logger } = options;
  const now = options.now ?? new Date();
  const result: RetentionResult = {
    archived: 0,
    releasedVersions: 0,
    releasedFiles: 0,
    releasedBytes: 0,
    errors: 0,
  };

  const audit = async (
    eventId: string,
    modelRef: string,
    versionLabel: string,
    meta: Record<string, string | number>,
  ) => {
    const event = await auditor.createEvent({
      eventId,
      severityLevel: 'medium',
      meta: { modelRef, versionLabel, actor: RETENTION_ACTOR, ...meta },
    });
    await event.success();
    await store.addAuditEvent({
      eventId,
      actor: RETENTION_ACTOR,
      modelRef,
      versionLabel,
      meta,
    });
  };

  if (config.keepDeprecated !== undefined || config.archiveAfterMs) {
    const candidates = await lifecycle.listVersionsToArchive({
      keepDeprecated: config.keepDeprecated,
      deprecatedBefore: config.archiveAfterMs
        ? new Date(now.getTime() - config.archiveAfterMs)
        : undefined,
    });
    for (const candidate of candidates) {
      try {
        const model = await store.getModel({ entityRef: candidate.modelRef });
        const version =
          model &&
          (await store.getVersion({
            modelId: model.id,
            label: candidate.label,
          }));
        if (!model || !version || version.state !== 'deprecated') {
          continue;
        }
        await options.approvals.transition({
          model,
          version,
          action: 'archive',
          actor: RETENTION_ACTOR,
          actorKind: 'service',
          expectedRevision: version.revision,
        });
        result.archived += 1;
        await audit('version-archive', model.entityRef, version.label, {
          reason:
            candidate.reason === 'count'
              ? `more than ${config.keepDeprecated} deprecated versions`
              : 'deprecated longer than archiveAfter',
        });
      } catch (error) {
        // changed concurrently (a reviewer acted): the next run looks again
        result.errors += 1;
        logger.warn(
          `Retention could not archive ${candidate.modelRef} ${candidate.label}: ${error}`,
        );
      }
    }
  }

  if (config.releaseArchivedFiles) {
    for (const version of await lifecycle.listArchivedVersionsWithFiles()) {
      const released = await lifecycle.releaseArchivedFiles({
        versionId: version.versionId,
      });
      if (released.files) {
        result.releasedVersions += 1;
        result.releasedFiles += released.files;
        result.releasedBytes += released.bytes;
        await audit('version-files-release', version.modelRef, version.label, {
          files: released.files,
          bytes: released.bytes,
        });
      }
    }
  }
  return result;
}
