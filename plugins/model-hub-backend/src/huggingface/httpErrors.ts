/** An error of the connection or of the response's framing. @internal */
export class HttpStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpStreamError';
  }
}
