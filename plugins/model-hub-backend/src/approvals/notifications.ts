import type { NotificationSendOptions } from '@backstage/plugin-notifications-node';
import { HubModel, VersionState } from '../database/types';
import { ApprovalPolicy } from './config';
import { TransitionAction } from './transitions';

/** The notification topic of the approvals workflow. @internal */
export const APPROVALS_TOPIC = 'model-hub:approvals';

/** The page of a model in the catalog. @internal */
export function modelLink(model: Pick<HubModel, 'namespace' | 'name'>) {
  return `/catalog/${encodeURIComponent(
    model.namespace,
  )}/model/${encodeURIComponent(model.name)}`;
}

/**
 * The notification of a transition, or undefined for transitions that
 * notify nobody. Submissions, approvals (once the version is approved),
 * requested changes, rejections and revocations go to the model's owner
 * and the reviewer groups of the policy, without the actor.
 *
 * @internal
 */
export function transitionNotification(options: {
  model: HubModel;
  label: string;
  action: TransitionAction;
  to: VersionState;
  actor: string;
  comment?: string;
  policy: ApprovalPolicy;
}): NotificationSendOptions | undefined {
  const { model, label, action, to, actor, comment, policy } = options;
  const name = model.title ?? model.name;
  const what = `${name} ${label}`;
  const reason = comment ? `: ${comment}` : '';
  let title: string;
  let description: string;
  let severity: 'normal' | 'high' = 'normal';
  switch (action) {
    case 'submit':
      title = `Review requested: ${what}`;
      description = `${actor} submitted version ${label} of ${model.entityRef} for review${reason}`;
      break;
    case 'approve':
      if (to !== 'approved') {
        return undefined;
      }
      title = `Approved: ${what}`;
      description = `${actor} approved version ${label} of ${model.entityRef}${reason}`;
      break;
    case 'request_changes':
      title = `Changes requested: ${what}`;
      description = `${actor} requested changes to version ${label} of ${model.entityRef}${reason}`;
      break;
    case 'reject':
      title = `Rejected: ${what}`;
      description = `${actor} rejected version ${label} of ${model.entityRef}${reason}`;
      severity = 'high';
      break;
    case 'revoke':
      title = `Approval revoked: ${what}`;
      description = `${actor} revoked the approval of version ${label} of ${model.entityRef}${reason}`;
      severity = 'high';
      break;
    default:
      return undefined;
  }
  return {
    recipients: {
      type: 'entity',
      entityRef: [...new Set([model.owner, ...policy.reviewerGroups])],
      excludeEntityRef: actor,
    },
    payload: {
      title,
      description,
      link: modelLink(model),
      topic: APPROVALS_TOPIC,
      severity,
      scope: `${model.entityRef}@${label}`,
    },
  };
}
