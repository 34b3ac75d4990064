import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { ModelCardView, splitFrontMatter } from './ModelCardView';

const CARD = `---
license: apache-2.0
tags:
  - chat
  - tiny
---
# Tiny LLM

A **tiny** model.
`;

function render(
  api: ReturnType<typeof modelHubApiMock>,
  files = modelHubFixtures.files().files,
) {
  return renderInTestApp(
    <TestApiProvider apis={[[modelHubApiRef, api]]}>
      <ModelCardView
        model="model:default/tiny-llm"
        version={modelHubFixtures.version()}
        files={files}
      />
    </TestApiProvider>,
  );
}

describe('ModelCardView', () => {
  it('splits the front matter of a card', () => {
    expect(splitFrontMatter(CARD)).toEqual({
      meta: { license: 'apache-2.0', tags: 'chat, tiny' },
      body: '# Tiny LLM\n\nA **tiny** model.\n',
    });
    expect(splitFrontMatter('# No meta')).toEqual({
      meta: {},
      body: '# No meta',
    });
  });

  it('renders the card, its metadata and config.json', async () => {
    const api = modelHubApiMock({
      readTextFile: async (_m, _l, path) =>
        path === 'README.md' ? CARD : '{"hidden_size":64}',
    });
    await render(api);
    expect(
      await screen.findByRole('heading', { name: 'Tiny LLM' }),
    ).toBeInTheDocument();
    expect(screen.getByText('chat, tiny')).toBeInTheDocument();
    expect(document.body.textContent).toContain('"hidden_size": 64');
    expect(api.readTextFile).toHaveBeenCalledWith(
      'model:default/tiny-llm',
      '1.0',
      'README.md',
    );
  });

  it('shows progress while loading', async () => {
    const api = modelHubApiMock({ readTextFile: () => new Promise(() => {}) });
    await render(api);
    expect(screen.getByTestId('progress')).toBeInTheDocument();
  });

  it('says when there is no card', async () => {
    const api = modelHubApiMock();
    await render(api, []);
    expect(
      await screen.findByText('This version has no model card (README.md).'),
    ).toBeInTheDocument();
    expect(api.readTextFile).not.toHaveBeenCalled();
  });

  it('shows a read error', async () => {
    const api = modelHubApiMock({
      readTextFile: async () => {
        throw new Error('cannot read');
      },
    });
    await render(api);
    expect((await screen.findAllByText(/cannot read/)).length).toBeGreaterThan(
      0,
    );
  });
});
