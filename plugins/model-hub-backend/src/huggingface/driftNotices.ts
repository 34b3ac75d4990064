import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import type { NotificationService } from '@backstage/plugin-notifications-node';
import type { ApprovalsService } from '../approvals/ApprovalsService';
import { modelLink } from '../approvals/notifications';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubModel } from '../database/types';
import { DRIFT_ACTOR, DRIFT_TOPIC } from './driftInfo';

/** What the drift review tells: its audit trail and its notifications. */
export type DriftNoticeOptions = {
  store: ModelHubStore;
  logger: LoggerService;
  approvals?: Pick<ApprovalsService, 'policyFor'>;
  notifications?: NotificationService;
  auditor?: AuditorService;
};

/** Audits a step of the drift review (auditor and audit trail); never throws. */
export async function auditDrift(
  options: DriftNoticeOptions,
  eventId: string,
  model: HubModel,
  versionLabel: string,
  meta: Record<string, string | number | boolean | null>,
) {
  const { auditor, store } = options;
  try {
    if (auditor) {
      const event = await auditor.createEvent({
        eventId,
        severityLevel: 'medium',
        meta: {
          modelRef: model.entityRef,
          versionLabel,
          actor: DRIFT_ACTOR,
          ...meta,
        },
      });
      await event.success();
    }
    await store.addAuditEvent({
      eventId,
      actor: DRIFT_ACTOR,
      modelRef: model.entityRef,
      versionLabel,
      meta,
    });
  } catch (error) {
    options.logger.warn(
      `Could not audit ${eventId} of ${model.entityRef} ${versionLabel}: ${error}`,
    );
  }
}

/** Notifies the owner and reviewers of a model about a drift version; never throws. */
export async function notifyDrift(
  options: DriftNoticeOptions,
  model: HubModel,
  label: string,
  title: string,
  description: string,
  severity: 'normal' | 'high' = 'normal',
) {
  const { notifications, approvals, logger } = options;
  if (!notifications) {
    return;
  }
  const reviewers = approvals ? approvals.policyFor(model).reviewerGroups : [];
  try {
    await notifications.send({
      recipients: {
        type: 'entity',
        entityRef: [...new Set([model.owner, ...reviewers])],
      },
      payload: {
        title,
        description,
        link: `${modelLink(model)}/versions/${encodeURIComponent(label)}`,
        topic: DRIFT_TOPIC,
        severity,
        scope: `${model.entityRef}@${label}:drift`,
      },
    });
  } catch (error) {
    logger.warn(
      `Could not send the drift notification of ${model.entityRef} ${label}: ${error}`,
    );
  }
}
