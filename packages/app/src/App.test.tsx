import { render, waitFor } from '@testing-library/react';
import App from './App';

jest.setTimeout(60_000);

describe('App', () => {
  it('renders the sign-in page of the demo portal', async () => {
    process.env = {
      NODE_ENV: 'test',
      APP_CONFIG: [
        {
          data: {
            app: { title: 'Model Hub demo' },
            backend: { baseUrl: 'http://localhost:7007' },
          },
          context: 'test',
        },
      ] as any,
    };

    const rendered = render(App.createRoot());

    // The whole app loads lazily; give it time on a busy machine.
    await waitFor(
      () => {
        expect(rendered.getByText('Guest')).toBeInTheDocument();
      },
      { timeout: 30_000 },
    );
  });
});
