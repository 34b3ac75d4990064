import { isIP, connect as netConnect, Socket } from 'node:net';
import { connect as tlsConnect, ConnectionOptions } from 'node:tls';
import {
  connectToProxy,
  HubNetwork,
  openTunnel,
  proxyAuthorization,
  proxyFor,
  trustedCa,
} from './proxy';
import type { ReadTarget } from '../store/readTarget';
import { HttpStreamError } from './httpErrors';
import {
  decodeChunked,
  Framing,
  framingOf,
  parseHead,
  TOKEN,
} from './httpFraming';

export { HttpStreamError } from './httpErrors';

/** The largest response head (status line and headers) accepted. */
const MAX_HEAD_BYTES = 64 * 1024;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Size of the reused read buffer. */
const READ_BUFFER_SIZE = 256 * 1024;

/** A streamed HTTP response. @internal */
export type HttpGetResponse = {
  statusCode: number;
  statusMessage: string;
  /** Header values by lower-case name; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /**
   * The body, decoded from chunked framing; a body cut short throws. Each
   * chunk is a view of a reused read buffer, valid until the next step of
   * the iteration: copy what must be kept. `readInto` (see
   * `offerReadTarget`) lets the next reads of a body that is not
   * chunked go straight into the consumer's memory.
   */
  body: AsyncIterable<Buffer> & {
    readInto(target: ReadTarget | undefined): void;
  };
  /** Closes the connection (the body then ends). */
  destroy(): void;
};

/** @internal */
export type HttpGetOptions = {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Fails when nothing arrives for this long. Defaults to 60 s. */
  idleTimeoutMs?: number;
  /** Extra TLS options (e.g. a `ca` for a private endpoint). */
  tls?: ConnectionOptions;
  /**
   * Proxies (`CONNECT` tunnels for https, absolute-form requests for http)
   * and extra trusted CAs.
   */
  network?: HubNetwork;
};

/** One GET on one socket: the response head, then the body's views. */
class GetConnection {
  private socket?: Socket;
  private headBytes: Buffer = Buffer.alloc(0);
  private headDone = false;
  private framing: Framing = { kind: 'close' };
  /** Body views of the current read, handed out before the next read. */
  private readonly queue: Buffer[] = [];
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  /** The consumer's memory for the next reads (`offerReadTarget`). */
  private readTarget?: ReadTarget;
  /** The consumer's memory the next read goes into (undefined: the read buffer). */
  private targetArea?: Uint8Array;
  /** Body bytes queued (not yet taken by the consumer). */
  private queuedBytes = 0;
  private ended = false;
  private failure: unknown;
  private paused = false;
  private wake?: () => void;
  /** Since when the consumer waits for data (for the idle timeout). */
  private waitingSince: number | undefined = Date.now();
  private idleTimer?: NodeJS.Timeout;
  private readonly idleMs: number;

  constructor(
    private readonly url: URL,
    private readonly options: HttpGetOptions,
    private readonly resolveHead: (response: HttpGetResponse) => void,
    private readonly rejectHead: (error: unknown) => void,
  ) {
    this.idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  start(request: string, proxy: URL | undefined) {
    const { url, options } = this;
    const secure = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port) || (secure ? 443 : 80);
    const onread = {
      buffer: () => this.nextReadBuffer(), // where the next read goes
      callback: (length: number, buf: Uint8Array) => this.onData(length, buf),
    };
    const tlsOptions = {
      servername: isIP(host) ? undefined : host,
      ALPNProtocols: ['http/1.1'],
      ca: trustedCa(options.network),
      ...options.tls,
    };
    if (proxy && secure) {
      // a CONNECT tunnel through the proxy, then TLS with the target
      openTunnel(proxy, { host, port }, options.network, options.signal).then(
        raw => {
          // `onread` is not offered over an existing socket: data events
          const socket = tlsConnect({
            ...tlsOptions,
            socket: raw,
          } as ConnectionOptions);
          socket.on('data', (chunk: Buffer) => {
            if (!this.onData(chunk.length, chunk)) {
              socket.pause();
            }
          });
          this.attach(socket, request);
        },
        error => this.fail(error),
      );
      return;
    }
    let socket: Socket;
    if (proxy) {
      // plain http through a forwarding proxy (absolute-form request)
      socket = connectToProxy(proxy, options.network, {
        buffer: this.readBuffer, // proxy.ts takes a fixed buffer
        callback: onread.callback,
      });
    } else if (secure) {
      socket = tlsConnect({
        host,
        port,
        ...tlsOptions,
        onread,
      } as ConnectionOptions);
    } else {
      socket = netConnect({ host, port, onread });
    }
    this.attach(socket, request);
  }

  private attach(socket: Socket, request: string) {
    const { options } = this;
    if (options.signal?.aborted) {
      socket.destroy();
      this.fail(options.signal.reason);
      return;
    }
    this.socket = socket;
    socket.on('error', error => this.onError(error));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onClose());
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.idleTimer = setInterval(
      () => this.checkIdle(),
      Math.max(10, Math.min(1000, this.idleMs / 4)),
    );
    this.idleTimer.unref();
    socket.write(request);
  }

  private readonly onAbort = () => {
    this.fail(this.options.signal!.reason);
  };

  private checkIdle() {
    if (
      this.waitingSince !== undefined &&
      Date.now() - this.waitingSince >= this.idleMs
    ) {
      this.fail(
        new HttpStreamError(
          `No data from ${this.url.origin} for ${Math.round(
            this.idleMs / 1000,
          )} s`,
        ),
      );
    }
  }

  private wakeUp() {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private fail(error: unknown) {
    this.failure ??= error;
    if (!this.headDone) {
      this.rejectHead(error);
    }
    this.socket?.destroy();
    this.wakeUp();
  }

  private onError(error: Error) {
    const { signal } = this.options;
    this.fail(
      signal?.aborted
        ? signal.reason
        : new HttpStreamError(
            `The connection to ${this.url.origin} failed: ${error.message}`,
          ),
    );
  }

  private onEnd() {
    const { origin } = this.url;
    if (!this.headDone) {
      this.fail(
        new HttpStreamError(
          `The connection to ${origin} closed before a response`,
        ),
      );
      return;
    }
    if (!this.ended) {
      if (this.framing.kind === 'close') {
        this.ended = true;
      } else {
        this.failure ??= new HttpStreamError(
          this.framing.kind === 'length'
            ? `The connection to ${origin} closed ${this.framing.left} bytes before the end of the body`
            : `The connection to ${origin} closed inside a chunked body`,
        );
      }
    }
    this.wakeUp();
  }

  private onClose() {
    clearInterval(this.idleTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (!this.headDone) {
      this.fail(
        this.failure ??
          new HttpStreamError(`The connection to ${this.url.origin} closed`),
      );
    }
    if (!this.ended && !this.failure) {
      this.failure = new HttpStreamError(
        `The connection to ${this.url.origin} closed`,
      );
    }
    this.wakeUp();
  }

  private onData(length: number, buf: Uint8Array): boolean {
    this.waitingSince = undefined;
    try {
      let data = Buffer.from(buf.buffer, buf.byteOffset, length);
      if (!this.headDone) {
        const head = this.takeHead(data);
        if (!head) {
          return true;
        }
        data = head.rest;
      }
      // a read into the consumer's memory (not the reused read buffer)
      const inTarget =
        this.targetArea !== undefined &&
        buf.buffer === this.targetArea.buffer &&
        buf.byteOffset === this.targetArea.byteOffset;
      this.targetArea = undefined;
      // the consumer took every earlier byte and waits for these
      const consumerWaits = this.wake !== undefined && !this.queue.length;
      this.takeBody(data);
      if (this.ended) {
        this.socket?.destroy();
      }
      if (this.queue.length) {
        this.wakeUp();
        // no pause for a read into memory the consumer waited for: it takes
        // these bytes before the next read, which goes after them
        if (inTarget && consumerWaits) {
          return true;
        }
        this.paused = true;
        return false;
      }
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  /**
   * The memory the next socket read goes into: the consumer's (a body
   * delimited by length or by the close, once it offered memory), so that
   * the bytes need no copy on their way to it, else the reused buffer.
   * Node asks right after each read, while that read's views are still
   * queued: the consumer's memory must leave room for them.
   */
  private nextReadBuffer(): Uint8Array {
    const target = this.readTarget;
    if (target && this.headDone && !this.ended && !this.failure) {
      const { framing } = this;
      if (framing.kind !== 'chunked') {
        let area: Uint8Array | undefined;
        try {
          area = target(this.queuedBytes);
        } catch {
          area = undefined;
        }
        if (area && area.length > 0) {
          this.targetArea =
            framing.kind === 'length' && area.length > framing.left
              ? area.subarray(0, Math.max(framing.left, 1))
              : area;
          return this.targetArea;
        }
      }
    }
    this.targetArea = undefined;
    return this.readBuffer;
  }

  /** Collects the response head; once complete, resolves the response. */
  private takeHead(data: Buffer): { rest: Buffer } | undefined {
    this.headBytes = Buffer.concat([this.headBytes, data]);
    const end = this.headBytes.indexOf('\r\n\r\n');
    if ((end < 0 ? this.headBytes.length : end) > MAX_HEAD_BYTES) {
      throw new HttpStreamError(
        `The response head from ${this.url.origin} is larger than ${MAX_HEAD_BYTES} bytes`,
      );
    }
    if (end < 0) {
      return undefined;
    }
    const head = parseHead(this.headBytes.subarray(0, end).toString('latin1'));
    this.framing = framingOf(head.statusCode, head.headers);
    // a copy (the concatenation), not a view of the read buffer
    const rest = this.headBytes.subarray(end + 4);
    this.headBytes = Buffer.alloc(0);
    this.headDone = true;
    if (this.framing.kind === 'length' && this.framing.left === 0) {
      this.ended = true;
    }
    this.resolveHead({
      ...head,
      body: Object.assign(this.body(), {
        readInto: (target: ReadTarget | undefined) => {
          this.readTarget = target;
        },
      }),
      destroy: () => this.socket?.destroy(),
    });
    return { rest };
  }

  /** Splits the bytes of one read into body views by the framing. */
  private takeBody(data: Buffer) {
    const before = this.queue.length;
    this.splitBody(data);
    for (let i = before; i < this.queue.length; i++) {
      this.queuedBytes += this.queue[i].length;
    }
  }

  private splitBody(data: Buffer) {
    const framing = this.framing;
    if (framing.kind === 'close') {
      if (data.length) {
        this.queue.push(data);
      }
      return;
    }
    if (framing.kind === 'length') {
      const piece =
        data.length > framing.left ? data.subarray(0, framing.left) : data;
      framing.left -= piece.length;
      if (piece.length) {
        this.queue.push(piece);
      }
      if (framing.left === 0) {
        this.ended = true;
      }
      return;
    }
    if (decodeChunked(framing, data, this.queue)) {
      this.ended = true;
    }
  }

  /** Resumes the socket and waits for the next read (or the end). */
  private waitForData(): Promise<void> {
    return new Promise<void>(resolve => {
      this.wake = resolve;
      this.waitingSince = Date.now();
      if (this.paused) {
        this.paused = false;
        this.socket?.resume();
      }
    });
  }

  private async next(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      const piece = this.queue.shift();
      if (piece) {
        this.queuedBytes -= piece.length;
        return { value: piece, done: false };
      }
      if (this.failure) {
        throw this.failure;
      }
      if (this.ended) {
        this.socket?.destroy();
        return { value: undefined, done: true };
      }
      await this.waitForData();
    }
  }

  private body(): AsyncIterable<Buffer> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => this.next(),
        return: async (): Promise<IteratorResult<Buffer>> => {
          this.queue.length = 0;
          this.queuedBytes = 0;
          this.socket?.destroy();
          return { value: undefined, done: true };
        },
      }),
    };
  }
}

/**
 * A lean HTTP/1.1 GET for large bodies, over a plain `net`/`tls` socket
 * that reads into one reused buffer (`onread`).
 *
 * Node's `http` client allocates a buffer for every socket read and its
 * parser copies every body byte into another new buffer, which costs more
 * CPU than hashing the bytes and leaves megabytes of garbage. Here the
 * response head is parsed once (size-limited and strict), then the body is
 * handed out as views of the read buffer, bounded by `Content-Length` or
 * decoded from chunked framing; the socket is paused while the consumer
 * holds a view. One request per connection (`Connection: close`);
 * redirects are the caller's business.
 *
 * Connection errors, malformed framing, silence for `idleTimeoutMs` while
 * waiting for data, and a body that ends before its `Content-Length` (or
 * its last chunk) throw an {@link HttpStreamError}.
 *
 * @internal
 */
export function httpGet(
  url: URL,
  options: HttpGetOptions = {},
): Promise<HttpGetResponse> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(
      new HttpStreamError(`Unsupported protocol ${url.protocol}`),
    );
  }
  const { signal } = options;
  if (signal?.aborted) {
    return Promise.reject(signal.reason);
  }
  const proxy = proxyFor(url, options.network);
  const forward = proxy && url.protocol === 'http:';
  const auth = forward ? proxyAuthorization(proxy) : undefined;
  const requestHeaders: Record<string, string> = {
    Host: url.host,
    'User-Agent': 'backstage-model-hub',
    Accept: '*/*',
    ...options.headers,
    ...(auth && { 'Proxy-Authorization': auth }),
    Connection: 'close',
  };
  let request = `GET ${
    forward ? `${url.origin}${url.pathname}` : url.pathname
  }${url.search} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(requestHeaders)) {
    if (!TOKEN.test(name) || /[\r\n]/.test(value)) {
      return Promise.reject(
        new HttpStreamError(`Invalid request header '${name}'`),
      );
    }
    request += `${name}: ${value}\r\n`;
  }
  request += '\r\n';

  return new Promise<HttpGetResponse>((resolve, reject) => {
    new GetConnection(url, options, resolve, reject).start(request, proxy);
  });
}
