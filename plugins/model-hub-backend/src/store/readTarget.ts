/**
 * Memory a streamed body's next socket read may go into: room for the
 * bytes that follow `queuedBytes` bytes received but not yet taken by the
 * consumer (undefined: the body's own read buffer). See
 * {@link SequentialFileWriter.readArea}.
 *
 * @internal
 */
export type ReadTarget = (queuedBytes: number) => Uint8Array | undefined;

/**
 * Offers `target` to a streamed body that can read into its consumer's
 * memory (the bodies of `httpGet`: `readInto`); undefined withdraws it.
 * Returns whether the body took it. A chunk the body then yields may be a
 * view of the target's memory, at exactly the place the target named.
 *
 * @internal
 */
export function offerReadTarget(
  body: unknown,
  target: ReadTarget | undefined,
): boolean {
  const readInto = (body as { readInto?: unknown } | null)?.readInto;
  if (typeof readInto !== 'function') {
    return false;
  }
  readInto.call(body, target);
  return true;
}
