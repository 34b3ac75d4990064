import '@testing-library/jest-dom';
import { configure } from '@testing-library/react';

// The component tests render whole Backstage test apps; on a busy 2-core CI
// machine, next to the backend suites, they need more than the defaults.
jest.setTimeout(30_000);
configure({ asyncUtilTimeout: 15_000 });

// usePermission keeps each decision in SWR's module-wide cache and dedupes
// requests for the same permission for 2 s. A test that renders with another
// decision than the test before it (same basic permission, same file) then
// kept the old decision whenever the tests ran faster than 2 s apart. Every
// test starts with an empty cache, and a mounted hook always asks again.
jest.mock('swr', () => {
  const actual = jest.requireActual('swr');
  return {
    __esModule: true,
    ...actual,
    default: (key: unknown, fetcher: unknown, config?: object) =>
      actual.default(key, fetcher, { ...config, dedupingInterval: 0 }),
  };
});

afterEach(async () => {
  const { mutate } = jest.requireActual('swr');
  await mutate(() => true, undefined, { revalidate: false });
});
