import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import express, { Request, Router } from 'express';
import { z } from 'zod';
import { RouteContext } from '../service/context';
import { parseInput } from '../service/validation';
import { MirrorStore } from './MirrorStore';
import { generateToken, hashToken, TOKEN_PREFIX_LENGTH } from './tokens';

/** What the token routes need. @internal */
export type MirrorTokenRoutesOptions = {
  mirrorStore: MirrorStore;
  maxLifetimeDays: number;
};

const DAY_MS = 86_400_000;

const adminListQuery = z.strictObject({
  user: z
    .string()
    .regex(/^user:[a-z0-9._-]{1,63}\/[A-Za-z0-9._-]{1,253}$/i, {
      message: 'must be a user entity ref, e.g. user:default/alice',
    })
    .optional(),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/**
 * Personal access tokens (`hf_...`) for Hugging Face clients, under
 * `/tokens`: a signed-in user creates, lists and revokes their own; under
 * `/admin/tokens`, admins (`model-hub.admin`) list and revoke anyone's. The
 * token is shown once, at creation; only its SHA-256 and first characters
 * are stored, and it is never logged or audited (its id is).
 *
 * @internal
 */
export function addMirrorTokenRoutes(
  router: Router,
  ctx: RouteContext,
  options: MirrorTokenRoutesOptions,
) {
  const { mirrorStore, maxLifetimeDays } = options;
  const json = express.json({ limit: '16kb' });
  const createBody = z.strictObject({
    name: z.string().trim().min(1).max(100),
    expiresInDays: z.number().int().min(1).max(maxLifetimeDays).optional(),
  });

  async function userCredentials(req: Request) {
    const credentials = await ctx.options.httpAuth.credentials(req, {
      allow: ['user'],
    });
    return credentials as BackstageCredentials<{
      type: 'user';
      userEntityRef: string;
    }>;
  }

  router.get('/tokens', async (req, res) => {
    const credentials = await userCredentials(req);
    const items = await mirrorStore.listTokens({
      userEntityRef: credentials.principal.userEntityRef,
    });
    res.json({ items });
  });

  router.post('/tokens', json, async (req, res) => {
    const body = parseInput(createBody, req.body, 'token');
    const created = await ctx.audited(
      req,
      { eventId: 'mirror-token-create', meta: { name: body.name } },
      async () => {
        const credentials = await userCredentials(req);
        const { userEntityRef } = credentials.principal;
        const token = generateToken();
        const expiresAt = new Date(
          Date.now() + (body.expiresInDays ?? maxLifetimeDays) * DAY_MS,
        );
        const stored = await mirrorStore.createToken({
          userEntityRef,
          name: body.name,
          prefix: token.slice(0, TOKEN_PREFIX_LENGTH),
          tokenHash: hashToken(token),
          expiresAt,
        });
        return {
          result: { ...stored, token },
          credentials,
          meta: { tokenId: stored.id, expiresAt: stored.expiresAt },
        };
      },
    );
    res.status(201).json(created);
  });

  router.delete('/tokens/:id', async (req, res) => {
    const id = parseInput(z.uuid(), req.params.id, 'token id');
    await ctx.audited(
      req,
      { eventId: 'mirror-token-revoke', meta: { tokenId: id } },
      async () => {
        const credentials = await userCredentials(req);
        const revoked = await mirrorStore.revokeToken({
          id,
          userEntityRef: credentials.principal.userEntityRef,
        });
        if (!revoked) {
          throw new NotFoundError(`Token ${id} not found`);
        }
        return { result: revoked, credentials };
      },
    );
    res.status(204).end();
  });

  router.get('/admin/tokens', async (req, res) => {
    await ctx.authorize(req, modelHubAdminPermission);
    const query = parseInput(adminListQuery, req.query, 'query');
    const page = await mirrorStore.listAllTokens({
      userEntityRef: query.user,
      offset: query.offset,
      limit: query.limit,
    });
    res.json({ ...page, offset: query.offset, limit: query.limit });
  });

  router.delete('/admin/tokens/:id', async (req, res) => {
    const id = parseInput(z.uuid(), req.params.id, 'token id');
    await ctx.audited(
      req,
      {
        eventId: 'mirror-token-revoke',
        severityLevel: 'high',
        meta: { tokenId: id, byAdmin: true },
      },
      async () => {
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        const revoked = await mirrorStore.revokeToken({ id });
        if (!revoked) {
          throw new NotFoundError(`Token ${id} not found`);
        }
        return {
          result: revoked,
          credentials,
          meta: { userEntityRef: revoked.userEntityRef },
        };
      },
    );
    res.status(204).end();
  });
}
