import { ServiceUnavailableError } from '@backstage/errors';
import {
  modelHubAdminPermission,
  modelHubVersionCreatePermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Router } from 'express';
import { z } from 'zod';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { RouteContext, principalKind, principalRef } from '../service/context';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import {
  createVersionBody,
  modelParams,
  parseInput,
  versionParams,
} from '../service/validation';
import { ApprovalsService } from './ApprovalsService';
import { TRANSITION_ACTIONS, TRANSITIONS } from './transitions';

const json = jsonBody(BODY_LIMITS.text);

const label = createVersionBody.shape.label;
const offset = z.coerce.number().int().min(0).max(1_000_000).default(0);
const limit = z.coerce.number().int().min(1).max(100).default(20);
const CHECK_NAME = /^[A-Za-z0-9][\w.:-]{0,127}$/;

const transitionBody = z.strictObject({
  action: z.enum(TRANSITION_ACTIONS),
  comment: z.string().max(10_000).optional(),
  /** The revision the caller saw. */
  revision: z.number().int().min(0).optional(),
});
const commentBody = z.strictObject({
  body: z.string().trim().min(1).max(10_000),
  parentId: z.uuid().optional(),
});
const waiverParams = versionParams.extend({
  check: z
    .string()
    .regex(CHECK_NAME, 'must be 1-128 letters, digits, _, ., : or -'),
});
const waiverBody = z.strictObject({
  reason: z.string().trim().min(1).max(2000),
});
const diffQuery = z.strictObject({ against: label.optional() });
const promoteBody = z.strictObject({
  label,
  /** The active version the caller saw; null for none. */
  expectedActive: label.nullable().optional(),
});
const rollbackBody = z.strictObject({
  label: label.optional(),
  /** The active version the caller saw; null for none. */
  expectedActive: label.nullable().optional(),
});
const queueQuery = z.strictObject({
  offset,
  limit,
  model: z
    .string()
    .max(255)
    .transform(v => v.toLocaleLowerCase('en-US'))
    .optional(),
});
const pageQuery = z.strictObject({ offset, limit });

/**
 * Routes of the approvals workflow: transitions, the review queue, review
 * data (comments, checks, diff, history), check waivers, the active version
 * of models and the webhook delivery log.
 *
 * @internal
 */
export function addApprovalRoutes(
  router: Router,
  ctx: RouteContext,
  workflow?: ApprovalsService,
) {
  const service = (_ctx: RouteContext): ApprovalsService => {
    if (!workflow) {
      throw new ServiceUnavailableError('The approvals workflow is not set up');
    }
    return workflow;
  };
  async function lookup(req: Request) {
    const params = parseInput(versionParams, req.params, 'version reference');
    const model = await ctx.requireModel(params);
    const version = await ctx.requireVersion(model, params.label);
    return { model, version };
  }

  router.get('/reviews', async (req, res) => {
    await ctx.credentials(req);
    const q = parseInput(queueQuery, req.query, 'query');
    const page = await service(ctx).store.listReviewQueue({
      offset: q.offset,
      limit: q.limit,
      modelRef: q.model,
      readable: await ctx.readCondition(req),
    });
    res.json({ ...page, offset: q.offset, limit: q.limit });
  });

  router.post(
    '/models/:namespace/:name/versions/:label/transitions',
    json,
    async (req, res) => {
      const approvals = service(ctx);
      const body = parseInput(transitionBody, req.body, 'transition');
      const { model, version } = await lookup(req);
      const rule = TRANSITIONS[body.action];
      const result = await ctx.audited(
        req,
        {
          eventId: rule.auditEventId,
          severityLevel: body.action === 'revoke' ? 'high' : 'medium',
          meta: {
            modelRef: model.entityRef,
            versionLabel: version.label,
            action: body.action,
            ...(body.comment ? { comment: body.comment } : {}),
          },
        },
        async audit => {
          const credentials = await ctx.authorize(
            req,
            rule.permission,
            model.entityRef,
          );
          const actor = principalRef(credentials);
          const done = await approvals.transition({
            model,
            version,
            action: body.action,
            actor,
            actorKind: principalKind(credentials),
            comment: body.comment,
            expectedRevision: body.revision,
            // the trail row commits with the transition
            onApplied: (tx, t) =>
              audit.record(tx, actor, {
                from: t.from,
                to: t.to,
                round: t.round,
                approvals: t.approvals,
                revision: t.revision,
              }),
          });
          return {
            result: done,
            credentials,
            meta: {
              from: done.transition.from,
              to: done.transition.to,
              round: done.transition.round,
              approvals: done.transition.approvals,
              revision: done.version.revision,
            },
          };
        },
      );
      res.json({
        version: result.version,
        from: result.transition.from,
        to: result.transition.to,
        round: result.transition.round,
        approvals: {
          count: result.transition.approvals.length,
          required: result.requiredApprovals,
          reviewers: result.transition.approvals,
        },
      });
    },
  );

  router.get(
    '/models/:namespace/:name/versions/:label/review',
    async (req, res) => {
      await ctx.credentials(req);
      const approvals = service(ctx);
      const { model, version } = await lookup(req);
      res.json(await approvals.review(model, version));
    },
  );

  router.get(
    '/models/:namespace/:name/versions/:label/comments',
    async (req, res) => {
      await ctx.credentials(req);
      const approvals = service(ctx);
      const { version } = await lookup(req);
      res.json({ items: await approvals.commentThreads(version) });
    },
  );

  router.post(
    '/models/:namespace/:name/versions/:label/comments',
    json,
    async (req, res) => {
      const approvals = service(ctx);
      const body = parseInput(commentBody, req.body, 'comment');
      const { model, version } = await lookup(req);
      const comment = await ctx.audited(
        req,
        {
          eventId: 'version-comment',
          severityLevel: 'low',
          meta: { modelRef: model.entityRef, versionLabel: version.label },
        },
        async () => {
          // reviewers comment, and so do those who create versions (owners)
          const credentials = (await ctx.isAllowed(
            req,
            modelHubVersionReviewPermission,
            model.entityRef,
          ))
            ? await ctx.credentials(req)
            : await ctx.authorize(
                req,
                modelHubVersionCreatePermission,
                model.entityRef,
              );
          const created = await approvals.addComment({
            version,
            parentId: body.parentId,
            author: principalRef(credentials),
            body: body.body,
          });
          return {
            result: created,
            credentials,
            meta: { commentId: created.id },
          };
        },
      );
      res.status(201).json(comment);
    },
  );

  router.post(
    '/models/:namespace/:name/versions/:label/checks/:check/waiver',
    json,
    async (req, res) => {
      const approvals = service(ctx);
      const params = parseInput(waiverParams, req.params, 'check reference');
      const body = parseInput(waiverBody, req.body, 'waiver');
      const { model, version } = await lookup(req);
      const waiver = await ctx.audited(
        req,
        {
          eventId: 'check-waive',
          severityLevel: 'high',
          meta: {
            modelRef: model.entityRef,
            versionLabel: version.label,
            check: params.check,
            reason: body.reason,
          },
        },
        async () => {
          const credentials = await ctx.authorize(req, modelHubAdminPermission);
          const created = await approvals.waiveCheck({
            version,
            checkName: params.check,
            reason: body.reason,
            actor: principalRef(credentials),
            actorKind: principalKind(credentials),
          });
          return { result: created, credentials };
        },
      );
      res.status(201).json(waiver);
    },
  );

  router.get(
    '/models/:namespace/:name/versions/:label/diff',
    async (req, res) => {
      await ctx.credentials(req);
      const approvals = service(ctx);
      const q = parseInput(diffQuery, req.query, 'query');
      const { model, version } = await lookup(req);
      res.json(await approvals.diff(model, version, q.against));
    },
  );

  router.get(
    '/models/:namespace/:name/versions/:label/history',
    async (req, res) => {
      await ctx.credentials(req);
      const approvals = service(ctx);
      const { model, version } = await lookup(req);
      res.json({ items: await approvals.history(model, version) });
    },
  );

  router.get('/models/:namespace/:name/active', async (req, res) => {
    await ctx.credentials(req);
    const approvals = service(ctx);
    const params = parseInput(modelParams, req.params, 'model reference');
    const model = await ctx.requireModel(params);
    res.json(await approvals.activeVersionWithHistory(model));
  });

  router.post('/models/:namespace/:name/active', json, async (req, res) => {
    const approvals = service(ctx);
    const params = parseInput(modelParams, req.params, 'model reference');
    const body = parseInput(promoteBody, req.body, 'promotion');
    const ref = modelEntityRef(params.namespace, params.name);
    const active = await ctx.audited(
      req,
      {
        eventId: 'version-promote',
        severityLevel: 'high',
        meta: { modelRef: ref, versionLabel: body.label },
      },
      async () => {
        const model = await ctx.requireModel(params);
        const credentials = await ctx.authorize(
          req,
          modelHubVersionCreatePermission,
          model.entityRef,
        );
        const version = await ctx.requireVersion(model, body.label);
        const result = await approvals.promote({
          model,
          version,
          actor: principalRef(credentials),
          expectedActive: body.expectedActive,
        });
        return { result, credentials };
      },
    );
    res.json(active);
  });

  router.post(
    '/models/:namespace/:name/active/rollback',
    json,
    async (req, res) => {
      const approvals = service(ctx);
      const params = parseInput(modelParams, req.params, 'model reference');
      const body = parseInput(rollbackBody, req.body ?? {}, 'rollback');
      const ref = modelEntityRef(params.namespace, params.name);
      const active = await ctx.audited(
        req,
        {
          eventId: 'model-rollback',
          severityLevel: 'high',
          meta: { modelRef: ref, ...(body.label ? { to: body.label } : {}) },
        },
        async () => {
          const model = await ctx.requireModel(params);
          const credentials = await ctx.authorize(
            req,
            modelHubVersionCreatePermission,
            model.entityRef,
          );
          const result = await approvals.rollback({
            model,
            label: body.label,
            actor: principalRef(credentials),
            expectedActive: body.expectedActive,
          });
          return { result, credentials, meta: { activeVersion: result.label } };
        },
      );
      res.json(active);
    },
  );

  router.get('/webhooks/deliveries', async (req, res) => {
    const approvals = service(ctx);
    await ctx.authorize(req, modelHubAdminPermission);
    const q = parseInput(pageQuery, req.query, 'query');
    const page = await approvals.store.listDeliveries(q);
    res.json({ ...page, offset: q.offset, limit: q.limit });
  });
}
