import { createHash } from 'node:crypto';
import {
  createMockDirectory,
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import request from 'supertest';
import * as tus from 'tus-js-client';
import { modelHubPlugin } from '../plugin';

jest.setTimeout(60_000);

const mockDir = createMockDirectory();

describe('uploads in the backend', () => {
  it('serves tus uploads through the plugin router, behind the credentials barrier', async () => {
    const { server } = await startTestBackend({
      features: [
        modelHubPlugin,
        mockServices.rootConfig.factory({
          data: {
            modelHub: {
              storage: { local: { path: mockDir.resolve('store') } },
              upload: { maxFileSizeMiB: 64 },
            },
          },
        }),
        catalogServiceMock.factory({ entities: [] }),
      ],
    });
    await request(server)
      .post('/api/model-hub/models')
      .send({ name: 'm', type: 'llm', owner: 'user:default/mock' })
      .expect(201);
    await request(server)
      .post('/api/model-hub/models/default/m/versions')
      .send({ label: 'v1' })
      .expect(201);

    // the credentials barrier: no token, no upload
    await request(server)
      .post('/api/model-hub/uploads')
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', '3')
      .set('Authorization', mockCredentials.none.header())
      .expect(401);

    const port = (server.address() as { port: number }).port;
    // 3 MiB: larger than Backstage's JSON body limit, in 1 MiB PATCHes
    const content = Buffer.alloc(3 * 1024 * 1024, 7);
    const sha256 = await new Promise<string | null>((resolve, reject) => {
      const upload = new tus.Upload(content, {
        endpoint: `http://127.0.0.1:${port}/api/model-hub/uploads`,
        headers: { Authorization: mockCredentials.user.header() },
        metadata: { model: 'default/m', version: 'v1', path: 'w/model.bin' },
        chunkSize: 1024 * 1024,
        onSuccess: ({ lastResponse }) =>
          resolve(lastResponse.getHeader('X-Content-Sha256') ?? null),
        onError: reject,
      });
      upload.start();
    });
    expect(sha256).toBe(createHash('sha256').update(content).digest('hex'));
    const files = await request(server)
      .get('/api/model-hub/models/default/m/versions/v1/files')
      .expect(200);
    expect(files.body.files).toContainEqual(
      expect.objectContaining({ path: 'w/model.bin', size: content.length }),
    );
  });
});
