import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Where the bytes of a request body go: `area` offers memory for the next
 * socket read (a writer's free room, see `SequentialFileWriter.readArea`;
 * undefined: the reader's own buffer), `take` accepts each chunk in order
 * (a view of that memory or of the reader's buffer, valid only during the
 * call) and returns a promise when the caller must wait before the next.
 *
 * @internal
 */
export type BodySink = {
  area(): Uint8Array | undefined;
  take(chunk: Buffer): Promise<void> | undefined;
};

/** @internal */
export type SocketBody = {
  /**
   * Moves the rest of the body into the sink; resolves with the error that
   * ended it early (the connection closed or failed), else undefined.
   */
  pipe(sink: BodySink): Promise<unknown>;
};

/** Bodies with less left than this stay with Node's HTTP parser. */
const MIN_TAKEOVER_BYTES = 1024 * 1024;
/** The reader's own buffer (reads when the sink offers no memory). */
const OWN_BUFFER_SIZE = 256 * 1024;

type StreamHandle = {
  useUserBuffer?(buf: Uint8Array): void;
  readStart?(): number;
  readStop?(): number;
  reading?: boolean;
};

type ParserLike = {
  _consumed?: boolean;
  incoming?: unknown;
  unconsume?(): void;
};

/** The `onread` slots of a `net.Socket` (Node's own symbols, by name). */
function onreadSlots(socket: Socket) {
  const symbols = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => symbols.find(s => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  return buffer && callback && generator
    ? { buffer, callback, generator }
    : undefined;
}

/**
 * Takes the rest of a request body away from Node's HTTP parser, so that
 * the socket reads it straight into the sink's memory: Node's server copies
 * every body byte into a new buffer per 64 KiB read (and a stream event per
 * chunk), which for a large upload costs more CPU than writing it and
 * leaves tens of MiB of garbage. Only for a plain-TCP HTTP/1.1 request
 * with a `Content-Length` of at least 1 MiB still to come (at most
 * `maxBytes`), whose body nobody has read yet, on a Node whose internals
 * look as expected (the parser consuming the socket, the socket's `onread`
 * slots); otherwise undefined, and the caller reads the request as a
 * stream. Bytes the parser already took are passed on first.
 *
 * The parser never sees the end of the body, so the connection cannot
 * carry another request: the response is sent with `Connection: close`.
 * The socket reads no further than the body.
 *
 * @internal
 */
export function takeSocketBody(
  req: IncomingMessage,
  maxBytes: number,
): SocketBody | undefined {
  const socket = req.socket as
    | (Socket & {
        _handle?: StreamHandle | null;
        parser?: ParserLike | null;
        encrypted?: boolean;
        _httpMessage?: { req?: unknown; shouldKeepAlive?: boolean } | null;
      })
    | null;
  const lengthHeader = req.headers['content-length'];
  if (
    !socket ||
    socket.encrypted ||
    req.httpVersionMajor !== 1 ||
    req.headers['transfer-encoding'] !== undefined ||
    lengthHeader === undefined ||
    !/^\d{1,16}$/.test(lengthHeader) ||
    req.complete ||
    req.readableFlowing === true ||
    req.readableDidRead ||
    req.destroyed ||
    socket.destroyed
  ) {
    return undefined;
  }
  const length = Number(lengthHeader);
  const handle = socket._handle;
  const parser = socket.parser;
  const response = socket._httpMessage;
  const slots = onreadSlots(socket);
  if (
    length > maxBytes ||
    length - req.readableLength < MIN_TAKEOVER_BYTES ||
    !handle ||
    typeof handle.useUserBuffer !== 'function' ||
    typeof handle.readStart !== 'function' ||
    typeof handle.readStop !== 'function' ||
    !parser ||
    parser._consumed !== true ||
    parser.incoming !== req ||
    typeof parser.unconsume !== 'function' ||
    !response ||
    response.req !== req ||
    !slots
  ) {
    return undefined;
  }
  const takeover: Takeover = {
    req,
    socket,
    handle,
    parser,
    response,
    slots,
    length,
  };
  return {
    // after the parser's current run over a read (a caller inside the
    // request event runs in the middle of it: the rest of that read still
    // goes to the request)
    pipe: sink =>
      new Promise<void>(resolve => setImmediate(resolve)).then(
        () =>
          new Promise<unknown>(resolve => startPipe(takeover, sink, resolve)),
      ),
  };
}

/** A request whose body a pipe takes over, and the internals it uses. */
type Takeover = {
  req: IncomingMessage;
  socket: Socket;
  handle: StreamHandle;
  parser: ParserLike;
  response: { shouldKeepAlive?: boolean };
  slots: NonNullable<ReturnType<typeof onreadSlots>>;
  /** The body's length (its Content-Length). */
  length: number;
};

function startPipe(
  takeover: Takeover,
  sink: BodySink,
  resolve: (error: unknown) => void,
) {
  const { req, socket, handle, parser, response, slots, length } = takeover;
  let left = length;
  let done = false;
  let waiting = false;
  const own = Buffer.allocUnsafe(OWN_BUFFER_SIZE);
  const slotted = socket as unknown as Record<symbol, unknown>;
  // set below; the socket's listeners call it
  let finish: (error?: unknown) => void = () => {};
  const cut = () => Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
  const onClose = () => finish(cut());
  const onEnd = () => finish(cut());
  const onError = (error: Error) => finish(error);
  finish = (error?: unknown) => {
    if (done) {
      return;
    }
    done = true;
    socket.off('close', onClose);
    socket.off('end', onEnd);
    socket.off('error', onError);
    if (handle.reading) {
      handle.reading = false;
      handle.readStop!();
    }
    // nothing more is read from this socket
    slotted[slots.callback] = () => false;
    slotted[slots.generator] = () => own;
    if (error !== undefined) {
      socket.destroy();
    }
    resolve(error);
  };
  /** Hands a chunk to the sink; false when the socket must pause. */
  const take = (chunk: Buffer): boolean => {
    left -= chunk.length;
    let wait: Promise<void> | undefined;
    try {
      wait = sink.take(chunk);
    } catch (error) {
      finish(error);
      return false;
    }
    if (left === 0) {
      if (wait) {
        wait.then(
          () => finish(),
          error => finish(error),
        );
      } else {
        finish();
      }
      return false;
    }
    if (wait) {
      waiting = true;
      wait.then(
        () => {
          waiting = false;
          if (!done) {
            handle.reading = true;
            handle.readStart!();
          }
        },
        error => finish(error),
      );
      return false;
    }
    return true;
  };
  /** Memory for the next read: the sink's, else ours; never past the body. */
  const next = (): Uint8Array => {
    const area = !done && !waiting ? sink.area() : undefined;
    const target = area && area.length > 0 ? area : own;
    return target.length > left && left > 0 ? target.subarray(0, left) : target;
  };

  // the parser stops reading the socket; the connection ends with this
  // response (the parser still waits for the body it never gets)
  parser.unconsume!();
  parser._consumed = false;
  response.shouldKeepAlive = false;
  socket.on('close', onClose);
  socket.on('end', onEnd);
  socket.on('error', onError);
  if (socket.destroyed || req.destroyed) {
    finish(cut());
    return;
  }

  // what the parser already took
  for (;;) {
    const chunk = req.read() as Buffer | null;
    if (!chunk) {
      break;
    }
    const piece = chunk.length > left ? chunk.subarray(0, left) : chunk;
    if (!take(piece)) {
      if (done) {
        return;
      }
      break;
    }
  }
  if (done) {
    return;
  }
  // from here the socket reads into `next()`'s memory, in this callback
  const first = next();
  slotted[slots.buffer] = first;
  slotted[slots.callback] = (nread: number, buf: Uint8Array) =>
    done
      ? false
      : take(Buffer.from(buf.buffer, buf.byteOffset, Math.min(nread, left)));
  slotted[slots.generator] = next;
  handle.useUserBuffer!(first);
  if (waiting) {
    // the sink takes nothing more until it is ready (then reads resume)
    if (handle.reading) {
      handle.reading = false;
      handle.readStop!();
    }
  } else {
    // (the request may have paused the socket: its buffer was full)
    handle.reading = true;
    handle.readStart!();
  }
}
