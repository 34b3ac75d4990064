import { Knex } from 'knex';

/** Columns of `models` a read condition may test. @internal */
export type ModelColumn =
  | 'entity_ref'
  | 'namespace'
  | 'name'
  | 'title'
  | 'description'
  | 'type'
  | 'task'
  | 'format'
  | 'license'
  | 'lifecycle'
  | 'owner';

/**
 * Which models a caller may read, as a condition on the hub's own rows:
 * the policy's decision translated into SQL (or resolved into entity refs),
 * so that lists filter in the query and their pages and counts stay right.
 * Values are lower-case; comparisons are case-insensitive, as the catalog's
 * rules compare.
 *
 * @internal
 */
export type ModelCondition =
  | { op: 'all' }
  | { op: 'none' }
  | { op: 'and' | 'or'; items: ModelCondition[] }
  | { op: 'not'; item: ModelCondition }
  /** the column (lower-cased) is one of the values */
  | { op: 'in'; column: ModelColumn; values: string[] }
  /** the column is set */
  | { op: 'present'; column: ModelColumn }
  /** the model has one of the tags, or any tag without values */
  | { op: 'tag'; values?: string[] };

/** Columns the hub stores lower-cased already (an index can serve them). */
const LOWER_CASE_COLUMNS = new Set<ModelColumn>(['entity_ref', 'owner']);

/**
 * Adds a condition on the `models` row named `alias` to a query. A NULL
 * column never satisfies `in`, also under `not` (`col IS NOT NULL AND …`).
 *
 * @internal
 */
export function whereModel(
  qb: Knex.QueryBuilder,
  db: Knex,
  cond: ModelCondition,
  alias: string,
): void {
  switch (cond.op) {
    case 'all':
      return;
    case 'none':
      qb.whereRaw('1 = 0');
      return;
    case 'and':
      for (const item of cond.items) {
        qb.where(b => whereModel(b, db, item, alias));
      }
      return;
    case 'or':
      if (cond.items.length === 0) {
        qb.whereRaw('1 = 0');
        return;
      }
      qb.where(b => {
        for (const item of cond.items) {
          b.orWhere(bb => whereModel(bb, db, item, alias));
        }
      });
      return;
    case 'not':
      if (cond.item.op === 'all') {
        qb.whereRaw('1 = 0');
      } else if (cond.item.op !== 'none') {
        qb.whereNot(b => whereModel(b, db, cond.item, alias));
      }
      return;
    case 'in': {
      const column = `${alias}.${cond.column}`;
      if (cond.values.length === 0) {
        qb.whereRaw('1 = 0');
        return;
      }
      qb.whereNotNull(column);
      if (LOWER_CASE_COLUMNS.has(cond.column)) {
        // chunks keep every statement under the bind limits of SQLite
        qb.where(b => {
          for (let i = 0; i < cond.values.length; i += 10_000) {
            b.orWhereIn(column, cond.values.slice(i, i + 10_000));
          }
        });
      } else {
        qb.whereRaw(`lower(??) in (${cond.values.map(() => '?').join(', ')})`, [
          column,
          ...cond.values,
        ]);
      }
      return;
    }
    case 'present':
      qb.whereNotNull(`${alias}.${cond.column}`);
      return;
    case 'tag': {
      const values = cond.values;
      qb.whereExists(function tagged() {
        this.select(db.raw('1'))
          .from('model_tags as mt')
          .whereRaw('mt.model_id = ??', [`${alias}.id`]);
        if (values) {
          this.whereRaw(
            `lower(mt.tag) in (${values.map(() => '?').join(', ')})`,
            [...values],
          );
        }
      });
      return;
    }
    default:
      qb.whereRaw('1 = 0');
  }
}

/**
 * Restricts a query of rows that belong to a model (jobs, versions, audit
 * events, …) to the models a condition lets the caller read. `column` holds
 * the model's id (`key: 'id'`) or entity ref (`key: 'entity_ref'`); rows
 * without a model are kept when `keepUnowned` is set.
 *
 * @internal
 */
export function whereReadableModel(
  qb: Knex.QueryBuilder,
  db: Knex,
  cond: ModelCondition | undefined,
  options: { column: string; key: 'id' | 'entity_ref'; keepUnowned?: boolean },
): void {
  if (!cond || cond.op === 'all') {
    return;
  }
  const readable = db('models as rm')
    .select(`rm.${options.key}`)
    .where(b => whereModel(b, db, cond, 'rm'));
  if (options.keepUnowned) {
    qb.where(b =>
      b.whereNull(options.column).orWhereIn(options.column, readable),
    );
  } else {
    qb.whereIn(options.column, readable);
  }
}
