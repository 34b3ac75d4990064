/*
 * Command line entry point: starts the mock server with the fixture repos.
 */
import { createDemoHub } from './demo';
import { createFixtureHub, FIXTURE_TOKENS } from './fixtures';
import { createMockHfServer, MockHfServer } from './server';

export interface CliOptions {
  port: number;
  host: string;
  repos: number;
  bigFileGib: number;
  pageSize?: number;
  publicUrl?: string;
  cacheDir?: string;
  rateLimitMiBps?: number;
  tokens: string[];
  acceptUnknownTokens: boolean;
  demo: boolean;
  help: boolean;
}

const USAGE = `Usage: mock-hf-server [options]

Starts a mock Hugging Face Hub with the fixture repos.

  --port <n>            port (default 5555; 0 = any free port)
  --host <addr>         interface (default 127.0.0.1)
  --repos <n>           also add n generated repos (bulk/model-0000 ...)
  --big-file-gib <x>    also add acme/big-model with an x GiB generated safetensors file
  --page-size <n>       tree / model-list page size (default 1000)
  --public-url <url>    base URL for absolute Link headers (behind a proxy)
  --cache-dir <dir>     keep generated files of 64 MiB or more in this folder and
                        serve them from there (a lighter server for benchmarks)
  --rate-limit-mibps <x> pace each response body to x MiB/s (a Hub that throttles
                        each connection)
  --token <hf_...>      accept this token with access to everything (repeatable)
  --accept-any-token    treat unknown tokens as users without grants instead of 401
  --demo                the curated repos of the demo portal (tiny-llm with several
                        revisions, a gated repo, a 64 MiB file) instead of the fixtures
  --help                show this help
`;

/** Parses command line arguments. */
export function parseCliArgs(argv: string[]): CliOptions {
  const options: CliOptions = {
    port: 5555,
    host: '127.0.0.1',
    repos: 0,
    bigFileGib: 0,
    tokens: [],
    acceptUnknownTokens: false,
    demo: false,
    help: false,
  };
  const args = argv.filter(a => a !== '--');
  for (let i = 0; i < args.length; i++) {
    let arg = args[i];
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      const v = value ?? args[++i];
      if (v === undefined) {
        throw new Error(`Missing value for ${arg}`);
      }
      return v;
    };
    const num = (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) {
        throw new Error(`Invalid number for ${arg}: ${v}`);
      }
      return n;
    };
    switch (arg) {
      case '--port':
      case '-p':
        options.port = num(next());
        break;
      case '--host':
        options.host = next();
        break;
      case '--repos':
        options.repos = Math.floor(num(next()));
        break;
      case '--big-file-gib':
        options.bigFileGib = num(next());
        break;
      case '--page-size':
        options.pageSize = Math.max(1, Math.floor(num(next())));
        break;
      case '--public-url':
        options.publicUrl = next();
        break;
      case '--cache-dir':
        options.cacheDir = next();
        break;
      case '--rate-limit-mibps':
        options.rateLimitMiBps = num(next()) || undefined;
        break;
      case '--token':
        options.tokens.push(next());
        break;
      case '--accept-any-token':
        options.acceptUnknownTokens = true;
        break;
      case '--demo':
        options.demo = true;
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new Error(`Unknown argument '${arg}'\n\n${USAGE}`);
    }
  }
  return options;
}

/** Runs the CLI; resolves with the started server (or undefined for --help). */
export async function runCli(
  argv: string[],
  out: (line: string) => void = line => process.stdout.write(`${line}\n`),
): Promise<MockHfServer | undefined> {
  const options = parseCliArgs(argv);
  if (options.help) {
    out(USAGE);
    return undefined;
  }
  const hub = options.demo
    ? createDemoHub({ acceptUnknownTokens: options.acceptUnknownTokens })
    : createFixtureHub({
        generatedRepos: options.repos,
        bigFileBytes: Math.round(options.bigFileGib * 1024 ** 3),
        acceptUnknownTokens: options.acceptUnknownTokens,
        ...(options.pageSize && {
          pageSize: { tree: options.pageSize, models: options.pageSize },
        }),
      });
  for (const token of options.tokens) {
    hub.addToken(token, { user: 'cli-user', access: '*' });
  }
  if (options.cacheDir) {
    const cached = hub.cacheLargeFiles(options.cacheDir);
    out(`Serving ${cached} large generated file(s) from ${options.cacheDir}`);
  }
  if (options.bigFileGib > 0) {
    out(`Hashing the ${options.bigFileGib} GiB generated file...`);
  }
  hub.warmUp();
  const server = await createMockHfServer({
    hub,
    port: options.port,
    host: options.host,
    publicUrl: options.publicUrl,
    ...(options.rateLimitMiBps && {
      rateLimitBytesPerSec: options.rateLimitMiBps * 1024 * 1024,
    }),
  });
  out(`Mock Hugging Face Hub listening on ${server.url}`);
  out(
    `  repos: ${hub.listRepoIds().length} (${hub
      .listRepoIds()
      .slice(0, 6)
      .join(', ')}${hub.listRepoIds().length > 6 ? ', ...' : ''})`,
  );
  out(
    `  tokens: admin=${FIXTURE_TOKENS.admin} granted=${FIXTURE_TOKENS.granted} user=${FIXTURE_TOKENS.user}`,
  );
  out(`  try: curl ${server.url}/api/models/acme/tiny-llm`);
  out(`MOCK_HF_URL=${server.url}`);
  return server;
}
