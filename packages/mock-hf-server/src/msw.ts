/*
 * msw v2 handlers serving a MockHub with the same core as the HTTP server.
 */
import { http, HttpResponse } from 'msw';
import { handleHubRequest } from './core';
import { MockHub } from './hub';

export interface MockHfHandlersOptions {
  /** Base URL the client uses as `hubUrl` (default `https://huggingface.co`); may have a path prefix. */
  baseUrl?: string;
}

/** msw request handlers answering every request under `baseUrl` from the hub. */
export function createMockHfHandlers(
  hub: MockHub,
  options: MockHfHandlersOptions = {},
) {
  const baseUrl = (options.baseUrl ?? 'https://huggingface.co').replace(
    /\/+$/,
    '',
  );
  return [
    http.all(`${baseUrl}/*`, async ({ request }) => {
      const body =
        request.method === 'GET' || request.method === 'HEAD'
          ? undefined
          : new Uint8Array(await request.arrayBuffer());
      const result = await handleHubRequest(
        hub,
        {
          method: request.method,
          url: request.url,
          headers: request.headers,
          body,
        },
        { baseUrl },
      );
      if (result.resetConnection) {
        return HttpResponse.error();
      }
      let stream: ReadableStream<Uint8Array> | null = null;
      if (result.body && result.status !== 204 && result.status !== 304) {
        const iterator = result.body[Symbol.iterator]();
        const abort = result.abortAfterBody;
        stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            const next = iterator.next();
            if (next.done) {
              if (abort) {
                controller.error(new Error('socket hang up (mock cut)'));
              } else {
                controller.close();
              }
            } else {
              controller.enqueue(new Uint8Array(next.value));
            }
          },
        });
      }
      return new HttpResponse(stream, {
        status: result.status,
        headers: result.headers,
      });
    }),
  ];
}
