#!/usr/bin/env node
/* eslint-disable no-console */
/*
 * Starts the mock Hugging Face Hub: the built module when the package was
 * installed from a tarball, else the TypeScript sources (no build needed).
 *
 *   yarn workspace @model-hub/mock-hf-server start -- --port 5555
 */
const fs = require('node:fs');
const path = require('node:path');

// In this repository the TypeScript sources run through the Backstage CLI's
// node transform; the published package ships only the built module (dist/).
const source = path.resolve(__dirname, '../src/cli.ts');
let runCli;
if (fs.existsSync(source)) {
  require('@backstage/cli/config/nodeTransform.cjs');
  ({ runCli } = require(source));
} else {
  ({ runCli } = require(path.resolve(__dirname, '../dist/cli.cjs.js')));
}

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
