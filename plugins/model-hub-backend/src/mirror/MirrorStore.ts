import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { readActiveVersions } from '../database/activeVersions';
import { DbDate, toIso, toOptionalIso } from '../database/rows';

/** A personal access token, without its secret. @internal */
export type MirrorToken = {
  id: string;
  userEntityRef: string;
  name: string;
  /** The first characters of the token (`hf_` and 4 more). */
  prefix: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
};

type TokenRow = {
  id: string;
  user_entity_ref: string;
  name: string;
  token_prefix: string;
  token_hash: string;
  decision: string;
  decided_at: DbDate;
  created_at: DbDate;
  expires_at: DbDate | null;
  last_used_at: DbDate | null;
  revoked_at: DbDate | null;
};

function toToken(row: TokenRow): MirrorToken {
  return {
    id: row.id,
    userEntityRef: row.user_entity_ref,
    name: row.name,
    prefix: row.token_prefix,
    createdAt: toIso(row.created_at),
    expiresAt: toOptionalIso(row.expires_at),
    lastUsedAt: toOptionalIso(row.last_used_at),
    revokedAt: toOptionalIso(row.revoked_at),
  };
}

/**
 * The tables of the mirror (`mirror_tokens`, `mirror_git_oids`), created by
 * the plugin's migrations.
 *
 * @internal
 */
export class MirrorStore {
  constructor(private readonly db: Knex) {}

  async createToken(options: {
    userEntityRef: string;
    name: string;
    prefix: string;
    tokenHash: string;
    expiresAt?: Date;
  }): Promise<MirrorToken> {
    const now = new Date();
    const row: TokenRow = {
      id: randomUUID(),
      user_entity_ref: options.userEntityRef,
      name: options.name,
      token_prefix: options.prefix,
      token_hash: options.tokenHash,
      // decisions are taken on use (kept for the column, never read)
      decision: 'null',
      decided_at: now,
      created_at: now,
      expires_at: options.expiresAt ?? null,
      last_used_at: null,
      revoked_at: null,
    };
    await this.db<TokenRow>('mirror_tokens').insert(row);
    return toToken(row);
  }

  /** The tokens of a user, newest first, revoked ones included. */
  async listTokens(options: { userEntityRef: string }): Promise<MirrorToken[]> {
    const rows = await this.db<TokenRow>('mirror_tokens')
      .where({ user_entity_ref: options.userEntityRef })
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'asc' },
      ]);
    return rows.map(toToken);
  }

  /**
   * A page of the tokens of every user (admins), or of one user, newest
   * first, revoked ones included, with the total count.
   */
  async listAllTokens(options: {
    userEntityRef?: string;
    offset: number;
    limit: number;
  }): Promise<{ items: MirrorToken[]; totalCount: number }> {
    const filtered = () => {
      const query = this.db<TokenRow>('mirror_tokens');
      return options.userEntityRef
        ? query.where({ user_entity_ref: options.userEntityRef })
        : query;
    };
    const [rows, [{ count }]] = await Promise.all([
      filtered()
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'asc' },
        ])
        .offset(options.offset)
        .limit(options.limit),
      filtered().count({ count: '*' }),
    ]);
    return { items: rows.map(toToken), totalCount: Number(count) };
  }

  async getTokenByHash(tokenHash: string): Promise<MirrorToken | undefined> {
    const row = await this.db<TokenRow>('mirror_tokens')
      .where({ token_hash: tokenHash })
      .first();
    return row ? toToken(row) : undefined;
  }

  /**
   * Revokes a token, of the given user only when one is given (admins
   * revoke any); undefined when there is no such token.
   */
  async revokeToken(options: {
    id: string;
    userEntityRef?: string;
  }): Promise<MirrorToken | undefined> {
    const match = options.userEntityRef
      ? { id: options.id, user_entity_ref: options.userEntityRef }
      : { id: options.id };
    await this.db<TokenRow>('mirror_tokens')
      .where(match)
      .whereNull('revoked_at')
      .update({ revoked_at: new Date() });
    const row = await this.db<TokenRow>('mirror_tokens').where(match).first();
    return row ? toToken(row) : undefined;
  }

  async touchToken(options: { id: string; at: Date }): Promise<void> {
    await this.db<TokenRow>('mirror_tokens')
      .where({ id: options.id })
      .update({ last_used_at: options.at });
  }

  /**
   * The active version of a model recorded by the approvals workflow, if
   * any (the one read of `model_active_versions`, shared with the REST API).
   */
  async getActiveVersionId(modelId: string): Promise<string | undefined> {
    return (await readActiveVersions(this.db, [modelId])).get(modelId)
      ?.versionId;
  }

  /**
   * The entity ref of the model a Hugging Face repo id was registered for by
   * the Hugging Face sync (`hf_repos`), compared case-insensitively. A repo
   * id registered from several model sources names the model of
   * `preferredSource` (the default source), else the one of the first
   * source by name (deterministic on every database).
   */
  async findModelRefByHfRepo(
    repoId: string,
    preferredSource = 'huggingface',
  ): Promise<string | undefined> {
    const row = await this.db('hf_repos as r')
      .join('models as m', 'm.id', 'r.model_id')
      .whereRaw('lower(r.repo_id) = ?', [repoId.toLocaleLowerCase('en-US')])
      .orderByRaw('case when r.source_name = ? then 0 else 1 end', [
        preferredSource,
      ])
      .orderBy([
        { column: 'r.source_name', order: 'asc' },
        { column: 'm.entity_ref', order: 'asc' },
      ])
      .first('m.entity_ref as entity_ref');
    return row?.entity_ref;
  }

  /**
   * The git view of a Hub commit as the Hugging Face sync recorded it
   * (`hf_repo_files`, the files of the last synced commit of a repo): per
   * path, the git blob id and the LFS digest.
   */
  async getUpstreamFiles(
    commit: string,
  ): Promise<
    Map<string, { oid: string; lfsSha256?: string; pointerSize?: number }>
  > {
    const rows: {
      path: string;
      oid: string;
      lfs_sha256: string | null;
      lfs_pointer_size: number | null;
    }[] = await this.db('hf_repo_files')
      .where({ commit })
      .select('path', 'oid', 'lfs_sha256', 'lfs_pointer_size');
    return new Map(
      rows.map(r => [
        r.path,
        {
          oid: r.oid,
          lfsSha256: r.lfs_sha256 ?? undefined,
          pointerSize: r.lfs_pointer_size ?? undefined,
        },
      ]),
    );
  }

  /** Cached git blob SHA-1s of the given content digests. */
  async getGitOids(sha256s: string[]): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    for (let i = 0; i < sha256s.length; i += 500) {
      const rows = await this.db<{ sha256: string; git_sha1: string }>(
        'mirror_git_oids',
      ).whereIn('sha256', sha256s.slice(i, i + 500));
      for (const row of rows) {
        result.set(row.sha256, row.git_sha1);
      }
    }
    return result;
  }

  async putGitOid(sha256: string, gitSha1: string): Promise<void> {
    await this.db('mirror_git_oids')
      .insert({ sha256, git_sha1: gitSha1 })
      .onConflict('sha256')
      .ignore();
  }
}
