import '@testing-library/jest-dom';
import { configure } from '@testing-library/react';

// The component tests render whole Backstage test apps; on a busy 2-core CI
// machine, next to the backend suites, they need more than the defaults.
jest.setTimeout(30_000);
configure({ asyncUtilTimeout: 15_000 });
