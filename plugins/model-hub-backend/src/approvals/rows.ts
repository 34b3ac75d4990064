/** Helpers of the approvals stores to map database rows. */

type DbDate = Date | string | number;

/** A date of a row as ISO 8601 (SQLite may answer epoch milliseconds). @internal */
export function toIso(value: DbDate): string {
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    return new Date(Number(value)).toISOString();
  }
  return new Date(value).toISOString();
}

/** A nullable column as an optional value. @internal */
export function opt<T>(value: T | null | undefined): T | undefined {
  return value === null || value === undefined ? undefined : value;
}

/** A JSON column, `{}` when empty or malformed. @internal */
export function parseJson(value: string | null): any {
  try {
    return value ? JSON.parse(value) : {};
  } catch {
    return {};
  }
}
