/**
 * A mock of the Hugging Face Hub HTTP API for Model Hub's tests and offline demo.
 *
 * @packageDocumentation
 */
export { MockHub, isLfsByDefault } from './hub';
export type {
  CommitSpec,
  FaultMatch,
  GatedMode,
  MockFault,
  MockHubOptions,
  PageSizes,
  RepoFileSpec,
  RepoSpec,
  RequestLogEntry,
  ScriptHandle,
  ScriptSpec,
  TokenSpec,
} from './hub';
export { handleHubRequest } from './core';
export type { CoreContext, CoreRequest, CoreResponse } from './core';
export { createMockHfServer } from './server';
export type { MockHfServer, MockHfServerOptions } from './server';
export { createMockHfHandlers } from './msw';
export type { MockHfHandlersOptions } from './msw';
export {
  createContentSource,
  generateBytes,
  gitBlobSha1,
  lfsPointer,
  sha256Hex,
} from './content';
export type {
  ContentSource,
  FileContentSpec,
  GeneratedContentSpec,
} from './content';
export {
  bigSafetensorsContent,
  countSafetensorsParameters,
  makeSafetensors,
} from './safetensors';
export type { SafetensorsDtype, TensorSpec } from './safetensors';
export { renderModelCard, toYaml } from './card';
export {
  bigFileRepo,
  createFixtureHub,
  diffusionRepo,
  edgeCasesRepo,
  embeddingRepo,
  fixtureRepos,
  FIXTURE_REPOS,
  FIXTURE_SHAS,
  FIXTURE_TOKENS,
  gatedRepo,
  generateRepos,
  HF_GITATTRIBUTES,
  privateRepo,
  tinyLlmRepo,
} from './fixtures';
export type { FixtureHubOptions, GenerateReposOptions } from './fixtures';
export { createDemoHub, DEMO_BIG_FILE_BYTES, DEMO_REPOS } from './demo';
export type { DemoHubOptions } from './demo';
export { parseCliArgs, runCli } from './cli';
export type { CliOptions } from './cli';
