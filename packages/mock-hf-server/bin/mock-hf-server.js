#!/usr/bin/env node
/* eslint-disable no-console */
/*
 * Starts the mock Hugging Face Hub. Runs the TypeScript sources directly
 * through the Backstage CLI's node transform (no build needed).
 *
 *   yarn workspace @model-hub/mock-hf-server start -- --port 5555
 */
const path = require('node:path');

require('@backstage/cli/config/nodeTransform.cjs');

const { runCli } = require(path.resolve(__dirname, '../src/cli.ts'));

runCli(process.argv.slice(2)).then(
  server => {
    if (!server) {
      return;
    }
    const shutdown = () => {
      server.close().finally(() => process.exit(0));
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  },
  error => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
