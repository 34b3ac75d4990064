/**
 * String helpers for request and upstream input that run in linear time.
 * Regular expressions such as `/^\/+|\/+$/` or `/[^a-z0-9]+$/` backtrack
 * quadratically on long runs of the repeated character that do not reach
 * the end (100,000 slashes: seconds of a blocked event loop); these loops
 * look at each character once.
 */

/**
 * Removes every leading and trailing character for which `strip` is true.
 *
 * @internal
 */
export function trimWhere(
  value: string,
  strip: (char: string) => boolean,
): string {
  let start = 0;
  let end = value.length;
  while (start < end && strip(value[start])) {
    start++;
  }
  while (end > start && strip(value[end - 1])) {
    end--;
  }
  return value.slice(start, end);
}

/**
 * Removes leading and trailing occurrences of one character (`'/'`).
 *
 * @internal
 */
export function trimChar(value: string, char: string): string {
  return trimWhere(value, c => c === char);
}

/**
 * Removes trailing characters for which `strip` is true.
 *
 * @internal
 */
export function trimEndWhere(
  value: string,
  strip: (char: string) => boolean,
): string {
  let end = value.length;
  while (end > 0 && strip(value[end - 1])) {
    end--;
  }
  return value.slice(0, end);
}
