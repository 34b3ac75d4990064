import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';

type Knex = Awaited<ReturnType<DatabaseService['getClient']>>;

const TABLE = 'model_hub_provider_cursors';

/**
 * The delta cursors of the Model Hub entity providers, in the catalog's
 * database (table `model_hub_provider_cursors`, created by this package's
 * migrations on first use), so that a provider's delta continues where the
 * last run stopped on whichever backend instance it ran, and after a
 * restart.
 *
 * @public
 */
export class ProviderCursorStore {
  private client?: Promise<Knex>;

  constructor(private readonly database: DatabaseService) {}

  private async db(): Promise<Knex> {
    this.client ??= (async () => {
      const knex = await this.database.getClient();
      if (!this.database.migrations?.skip) {
        await knex.migrate.latest({
          directory: resolvePackagePath(
            '@model-hub/backstage-plugin-catalog-backend-module-model-hub',
            'migrations',
          ),
          // the catalog's own migrations keep the default table
          tableName: 'model_hub_provider__knex_migrations',
        });
      }
      return knex;
    })();
    // a failed start (the database away) is retried by the next call
    this.client.catch(() => {
      this.client = undefined;
    });
    return this.client;
  }

  /** Where the next delta of a provider starts, if a run stored it. */
  async get(providerName: string): Promise<string | undefined> {
    const db = await this.db();
    const row = await db(TABLE)
      .where({ provider_name: providerName })
      .first('since');
    return row?.since ?? undefined;
  }

  /**
   * Stores where the next delta of a provider starts. With `expected`, only
   * when the stored cursor is still that one: a delta that ran alongside a
   * full refresh does not move the cursor past what the refresh set. Says
   * whether it was stored.
   */
  async set(
    providerName: string,
    since: string,
    options?: { expected: string },
  ): Promise<boolean> {
    const db = await this.db();
    const row = { since, updated_at: new Date() };
    if (!options) {
      await db(TABLE)
        .insert({ provider_name: providerName, ...row })
        .onConflict('provider_name')
        .merge(['since', 'updated_at']);
      return true;
    }
    const updated = await db(TABLE)
      .where({ provider_name: providerName, since: options.expected })
      .update(row);
    return updated > 0;
  }
}
