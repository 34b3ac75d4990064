import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import express, { Request, Router } from 'express';
import { z } from 'zod';
import { RouteContext } from '../service/context';
import { parseInput } from '../service/validation';
import { MirrorAccess } from './access';
import { MirrorStore } from './MirrorStore';
import { generateToken, hashToken, TOKEN_PREFIX_LENGTH } from './tokens';

/** What the token routes need. @internal */
export type MirrorTokenRoutesOptions = {
  mirrorStore: MirrorStore;
  access: MirrorAccess;
  maxLifetimeDays: number;
};

const DAY_MS = 86_400_000;

/**
 * Personal access tokens (`hf_...`) for Hugging Face clients, under
 * `/tokens`: a signed-in user creates, lists and revokes their own. The
 * token is shown once, at creation; only its SHA-256 and first characters
 * are stored, and it is never logged or audited.
 *
 * @internal
 */
export function addMirrorTokenRoutes(
  router: Router,
  ctx: RouteContext,
  options: MirrorTokenRoutesOptions,
) {
  const { mirrorStore, access, maxLifetimeDays } = options;
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
    const { userEntityRef } = credentials.principal;
    // refresh the permission decision that the user's tokens carry
    await mirrorStore.updateDecision({
      userEntityRef,
      decision: await access.decideForUser(credentials),
    });
    const items = await mirrorStore.listTokens({ userEntityRef });
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
        const decision = await access.decideForUser(credentials);
        const token = generateToken();
        const expiresAt = new Date(
          Date.now() + (body.expiresInDays ?? maxLifetimeDays) * DAY_MS,
        );
        const stored = await mirrorStore.createToken({
          userEntityRef,
          name: body.name,
          prefix: token.slice(0, TOKEN_PREFIX_LENGTH),
          tokenHash: hashToken(token),
          decision,
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
}
