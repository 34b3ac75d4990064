import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import { ERRORS } from '@tus/server';
import express from 'express';
import request from 'supertest';
import { nodeRequest, sendTusError, tusError, TusHttpError } from './tusErrors';

function mapped(error: unknown): { status_code: number; body: string } {
  try {
    tusError(error);
  } catch (e) {
    return e as { status_code: number; body: string };
  }
  throw new Error('tusError returned');
}

describe('tusError', () => {
  it.each([
    [new InputError('bad metadata'), 400],
    [Object.assign(new Error('who?'), { name: 'AuthenticationError' }), 401],
    [new NotAllowedError('not yours'), 403],
    [new NotFoundError('gone'), 404],
    [new ConflictError('exists'), 409],
  ])('keeps the name and message of %s as %i', (error, status) => {
    const e = mapped(error);
    expect(e).toBeInstanceOf(TusHttpError);
    expect(e.status_code).toBe(status);
    expect(JSON.parse(e.body)).toEqual({
      error: { name: error.name, message: error.message },
      response: { statusCode: status },
    });
  });

  it('hides the details of other errors behind a 500', () => {
    for (const error of [
      new Error('ENOENT: /var/lib/secret/path'),
      new TypeError('x is undefined'),
      'a string',
      undefined,
    ]) {
      const e = mapped(error);
      expect(e.status_code).toBe(500);
      expect(JSON.parse(e.body)).toEqual({
        error: { name: 'Error', message: 'Internal error' },
        response: { statusCode: 500 },
      });
    }
  });

  it("passes the tus server's own errors unchanged", () => {
    expect(mapped(ERRORS.INVALID_OFFSET)).toBe(ERRORS.INVALID_OFFSET);
    const own = new TusHttpError(412, 'Tus-Resumable Required\n');
    expect(mapped(own)).toBe(own);
  });
});

describe('sendTusError', () => {
  const app = express()
    .get('/json', (_req, res) => sendTusError(res, new NotFoundError('gone')))
    .get('/text', (_req, res) => sendTusError(res, ERRORS.INVALID_OFFSET))
    .get('/sent', (_req, res) => {
      res.status(204).end();
      sendTusError(res, new Error('late'));
    });

  it('answers JSON bodies as JSON and tus bodies as text', async () => {
    const json = await request(app).get('/json').expect(404);
    expect(json.headers['tus-resumable']).toBe('1.0.0');
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.body.error).toEqual({ name: 'NotFoundError', message: 'gone' });
    const text = await request(app).get('/text').expect(409);
    expect(text.headers['tus-resumable']).toBe('1.0.0');
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.text).toBe('Upload-Offset conflict\n');
  });

  it('leaves an answered response alone', async () => {
    await request(app).get('/sent').expect(204);
  });
});

describe('nodeRequest', () => {
  it('finds the Node.js request behind a web request, or fails', () => {
    const node = { baseUrl: '/api/model-hub' };
    expect(nodeRequest({ runtime: { node: { req: node } } } as any)).toBe(node);
    expect(() => nodeRequest(new Request('http://localhost/'))).toThrow(
      'tus request without a Node.js request',
    );
  });
});
