/**
 * The container image, checked without a Docker engine: the Dockerfile is linted
 * (dockerfile-utils), every file it COPYs exists in the repository or is made by the build stage
 * and is let through by .dockerignore, the runtime stage is locked down (numeric non-root user,
 * tini, SIGTERM, a health check) and runs the documented command, and what it runs needs only the
 * production dependencies. Where the image and deploy/k8s meet (user, ports, paths, command),
 * they agree.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isBuiltin } from 'node:module';
import { posix } from 'node:path';
import { validate } from 'dockerfile-utils';
import ts from 'typescript';
import { parse } from 'yaml';
import { buildConfig } from '../../src/config/config.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFile(new URL(path, root), 'utf8');
const exists = (path: string) =>
  stat(new URL(path, root)).then(
    () => true,
    () => false,
  );

const CONFIG_PATH = '/etc/credcache/credcache.yaml';
const COMMAND = `credcache serve --config ${CONFIG_PATH}`;

// --- Dockerfile parsing: instructions, stages, arguments -----------------------------------

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly name: string | undefined;
  readonly image: string;
  readonly instructions: Instruction[];
}

interface Dockerfile {
  readonly stages: Stage[];
}

/** Instructions with continuation lines joined; comment lines dropped, as the builder does. */
function instructions(text: string): Instruction[] {
  const result: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line)) return;
    if (pending === undefined && line.trim() === '') return;
    const continued = /\\\s*$/.test(line);
    const body = continued ? line.replace(/\\\s*$/, '') : line;
    pending = pending ? { ...pending, text: pending.text + body } : { text: body, line: index + 1 };
    if (continued) return;
    const match = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(pending.text);
    assert.ok(match?.[1] && match[2] !== undefined, `line ${pending.line}: an instruction`);
    result.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: pending.line });
    pending = undefined;
  });
  assert.equal(pending, undefined, 'the last instruction is complete');
  return result;
}

/** `NAME=value` pairs (values bare or double-quoted), as in ARG, ENV and LABEL. */
function pairs(args: string): Map<string, string> {
  const result = new Map<string, string>();
  const rest = args.replace(/([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)/g, (_, name, value) => {
    const text = String(value);
    result.set(String(name), text.startsWith('"') ? (JSON.parse(text) as string) : text);
    return '';
  });
  assert.equal(rest.trim(), '', `only NAME=value pairs in ${JSON.stringify(args)}`);
  return result;
}

function substitute(text: string, args: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced, bare) => {
    const name = String(braced ?? bare);
    const value = args.get(name);
    assert.ok(value !== undefined, `ARG ${name} has a default`);
    return value;
  });
}

async function dockerfile(): Promise<Dockerfile> {
  // ARGs declared before the first FROM, with their defaults: what FROM lines may use.
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions(await read('Dockerfile'))) {
    const current = stages.at(-1);
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      assert.ok(words.length === 1 || (words.length === 3 && /^as$/i.test(words[1] ?? '')));
      const image = substitute(words[0] ?? '', globalArgs);
      stages.push({ name: words[2], image, instructions: [] });
    } else if (current) {
      current.instructions.push(instruction);
    } else {
      assert.equal(instruction.keyword, 'ARG', 'only ARG before the first FROM');
      const [name = '', ...value] = instruction.args.split('=');
      globalArgs.set(name, value.join('='));
    }
  }
  return { stages };
}

function stage(file: Dockerfile, name: string): Stage {
  const found = file.stages.find((s) => s.name === name);
  assert.ok(found, `a stage named ${name}`);
  return found;
}

function all(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

function one(stage: Stage, keyword: string): Instruction {
  const found = all(stage, keyword);
  assert.equal(found.length, 1, `one ${keyword} in stage ${stage.name ?? '?'}`);
  return found[0] as Instruction;
}

/** The exec (JSON) form of an instruction's arguments. */
function exec(args: string): string[] {
  const parsed = JSON.parse(args) as unknown;
  assert.ok(
    Array.isArray(parsed) && parsed.every((item) => typeof item === 'string'),
    `exec form: ${args}`,
  );
  return parsed;
}

/** Leading `--flag=value` words, and the rest. */
function flags(args: string): { flags: Map<string, string>; words: string[] } {
  const words = args.split(/\s+/);
  const result = new Map<string, string>();
  while (words[0]?.startsWith('--')) {
    const [name = '', value = ''] = (words.shift() ?? '').slice(2).split('=', 2);
    result.set(name, value);
  }
  return { flags: result, words };
}

interface Copy {
  readonly from: string | undefined;
  readonly sources: string[];
  /** Where each source lands in the stage, absolute. */
  readonly targets: string[];
  readonly instruction: Instruction;
}

/** A stage's COPYs, destinations resolved against WORKDIR (a source `dir/` copies its content). */
function copies(stage: Stage): Copy[] {
  const result: Copy[] = [];
  let workdir = '/';
  for (const instruction of stage.instructions) {
    if (instruction.keyword === 'WORKDIR') workdir = posix.resolve(workdir, instruction.args);
    if (instruction.keyword === 'ADD') assert.fail(`line ${instruction.line}: COPY, not ADD`);
    if (instruction.keyword !== 'COPY') continue;
    const parsed = flags(instruction.args);
    assert.ok(parsed.words.length >= 2, `line ${instruction.line}: COPY <src>… <dest>`);
    const sources = parsed.words.slice(0, -1);
    const dest = parsed.words.at(-1) ?? '';
    assert.ok(
      sources.length === 1 || dest.endsWith('/'),
      `line ${instruction.line}: several sources need a directory destination`,
    );
    for (const source of sources) {
      assert.doesNotMatch(source, /[*?[\]$]/, `line ${instruction.line}: no globs or variables`);
    }
    const target = posix.resolve(workdir, dest);
    result.push({
      from: parsed.flags.get('from'),
      sources,
      targets: sources.map((source) =>
        dest.endsWith('/') && !source.endsWith('/')
          ? posix.join(target, posix.basename(source))
          : target,
      ),
      instruction,
    });
  }
  return result;
}

function workdirOf(stage: Stage): string {
  return all(stage, 'WORKDIR').reduce((dir, i) => posix.resolve(dir, i.args), '/');
}

/** Shell commands of a stage's RUNs, split on `&&` and `;`, in order. */
function commands(stage: Stage): string[] {
  return all(stage, 'RUN').flatMap((run) =>
    run.args
      .split(/&&|;/)
      .map((command) => command.trim().replace(/\s+/g, ' '))
      .filter((command) => command !== ''),
  );
}

// --- .dockerignore, as Docker reads it ------------------------------------------------------

interface IgnoreRule {
  readonly exception: boolean;
  readonly regex: RegExp;
}

/** Docker's rules: filepath.Match patterns plus `**`, `!` exceptions, the last match wins. */
async function ignoreRules(): Promise<IgnoreRule[]> {
  const rules: IgnoreRule[] = [];
  for (const raw of (await read('.dockerignore')).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exception = line.startsWith('!');
    const pattern = posix.normalize(line.slice(exception ? 1 : 0).trim()).replace(/^\/+|\/+$/g, '');
    assert.doesNotMatch(pattern, /[[\\]/, `${line}: character classes and escapes unchecked here`);
    let source = '';
    for (let i = 0; i < pattern.length; i++) {
      const char = pattern.charAt(i);
      if (pattern.startsWith('**/', i)) {
        source += '(?:.*/)?';
        i += 2;
      } else if (pattern.startsWith('**', i)) {
        source += '.*';
        i += 1;
      } else if (char === '*') source += '[^/]*';
      else if (char === '?') source += '[^/]';
      else source += char.replace(/[.+^${}()|]/g, '\\$&');
    }
    rules.push({ exception, regex: new RegExp(`^${source}$`) });
  }
  return rules;
}

/** Whether the build context leaves `path` out (a rule matches it or one of its parents). */
function ignored(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = posix.normalize(path).replace(/\/+$/, '').split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.regex.test(candidate))) excluded = !rule.exception;
  }
  return excluded;
}

/** The files under a repository path (itself, when it is a file). */
async function filesUnder(path: string): Promise<string[]> {
  const url = new URL(path, root);
  if (!(await stat(url)).isDirectory()) return [path];
  const entries = await readdir(url, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) =>
      posix.join(posix.relative(new URL('.', root).pathname, entry.parentPath), entry.name),
    );
}

// --- the repository's side ------------------------------------------------------------------

interface PackageJson {
  name: string;
  version: string;
  description: string;
  license: string;
  type: string;
  main?: string;
  bin: Record<string, string>;
  engines: { node: string };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
}

const packageJson = async () => JSON.parse(await read('package.json')) as PackageJson;

interface BuildTsconfig {
  extends: string;
  compilerOptions: { rootDir: string; outDir: string };
  include: string[];
}

const buildTsconfig = async () => JSON.parse(await read('tsconfig.build.json')) as BuildTsconfig;

/** deploy/k8s: the sidecar's config file and its pod's user and probes. */
async function k8s() {
  const config = buildConfig(parse(await read('deploy/k8s/credcache.yaml')), { env: {} });
  const deployment = parse(await read('deploy/k8s/deployment.yaml')) as {
    spec: {
      template: {
        spec: {
          securityContext: { runAsUser: number };
          initContainers: {
            name: string;
            args: string[];
            readinessProbe: { httpGet: { path: string } };
          }[];
        };
      };
    };
  };
  const pod = deployment.spec.template.spec;
  const sidecar = pod.initContainers.find((container) => container.name === 'credcache');
  assert.ok(sidecar);
  return { config, runAsUser: pod.securityContext.runAsUser, sidecar };
}

/** Runs a `node -e` script; resolves to its exit code. */
async function runNode(script: string): Promise<number | null> {
  const child = spawn(process.execPath, ['-e', script], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH },
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('container image (Dockerfile)', function () {
  this.timeout(20_000);

  it('lints clean with dockerfile-utils: no errors, no warnings', async () => {
    const diagnostics = validate(await read('Dockerfile'));
    assert.deepEqual(
      diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`),
      [],
    );
  });

  it('builds in a build stage and runs from a runtime stage, both on the same pinned Node 20 slim image', async () => {
    const file = await dockerfile();
    assert.deepEqual(
      file.stages.map((s) => s.name),
      ['build', 'runtime'],
      'the runtime stage is last: the default target',
    );
    const images = new Set(file.stages.map((s) => s.image));
    assert.equal(images.size, 1, `one base image: ${[...images].join(', ')}`);
    const [image = ''] = images;
    const tag = /^node:(\d+)\.(\d+)\.(\d+)-bookworm-slim(?:@sha256:[0-9a-f]{64})?$/.exec(image);
    assert.ok(tag, `${image}: node:<major>.<minor>.<patch>-bookworm-slim, an exact release`);
    const version = tag.slice(1, 4).map(Number);
    const { engines } = await packageJson();
    const floor = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(engines.node);
    assert.ok(floor, `engines.node ${engines.node}`);
    const minimum = floor.slice(1, 4).map(Number);
    assert.equal(version[0], 20, 'Node 20');
    assert.equal(version[0], minimum[0], 'the major of engines.node');
    const compare = version.map((part, i) => part - (minimum[i] ?? 0)).find((d) => d !== 0) ?? 0;
    assert.ok(compare >= 0, `${image} satisfies engines.node ${engines.node}`);
  });

  it('COPYs from the build context only files that exist and that .dockerignore lets through', async () => {
    const file = await dockerfile();
    const rules = await ignoreRules();
    const fromContext = file.stages.flatMap((s) => copies(s).filter((c) => c.from === undefined));
    const sources = fromContext.flatMap((c) => c.sources.map((source) => posix.normalize(source)));
    assert.deepEqual(sources.sort(), [
      'bin/',
      'package-lock.json',
      'package.json',
      'package.json',
      'src/',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
    for (const source of sources) {
      assert.ok(await exists(source), `${source} exists in the repository`);
      const files = await filesUnder(source);
      assert.ok(files.length > 0, `${source} holds files`);
      for (const path of files) assert.equal(ignored(rules, path), false, `${path} is sent`);
    }
    // What must never reach the builder: local state, build outputs, secrets.
    for (const path of [
      'node_modules/yaml/package.json',
      'dist/cli/cli.js',
      'coverage/lcov.info',
      '.git/HEAD',
      '.credcache/token',
      'bench/results/run.json',
      'docs/benchmarks.md',
      'test/deploy/dockerfile.test.ts',
      '.nyc_output/out.json',
      '.env',
      'src/../.env',
    ]) {
      assert.equal(ignored(rules, path), true, `${path} is left out of the context`);
    }
  });

  it('builds dist/ and production node_modules from sources the build stage holds', async () => {
    const file = await dockerfile();
    const build = stage(file, 'build');
    const workdir = workdirOf(build);
    const held = copies(build).flatMap((c) =>
      c.sources.map((source, i) => [posix.normalize(source).replace(/\/$/, ''), c.targets[i]]),
    );
    // Every source lands under the workdir at its repository path, so the repo's relative
    // paths (tsconfig's extends and include, package.json's scripts) hold in the stage.
    for (const [source = '', target] of held) {
      assert.equal(target, posix.join(workdir, source), `${source} keeps its path`);
    }
    const heldPaths = held.map(([source]) => source);
    const tsconfig = await buildTsconfig();
    const pkg = await packageJson();
    assert.equal(pkg.scripts.build, 'tsc -p tsconfig.build.json');
    for (const needed of [
      'package.json',
      'package-lock.json',
      'tsconfig.build.json',
      posix.normalize(tsconfig.extends),
      ...tsconfig.include,
    ]) {
      assert.ok(heldPaths.includes(needed), `the build stage copies ${needed}`);
    }
    // npm ci (dependencies from the lockfile), the build, then the dev dependencies dropped.
    const npm = commands(build).filter((command) => /^npm /.test(command));
    assert.deepEqual(
      npm.map((command) => command.split(' ').slice(0, 2).join(' ')),
      ['npm ci', 'npm run', 'npm prune'],
    );
    assert.match(npm[0] ?? '', /--ignore-scripts/, 'prepare would build before src/ is copied');
    assert.match(npm[1] ?? '', /^npm run build$/);
    assert.match(npm[2] ?? '', /--omit=dev/);
    // The runtime stage takes only what the build made: dist/ (outDir) and node_modules.
    const produced = [
      posix.join(workdir, tsconfig.compilerOptions.outDir),
      posix.join(workdir, 'node_modules'),
    ];
    const fromBuild = copies(stage(file, 'runtime')).filter((c) => c.from !== undefined);
    assert.ok(fromBuild.length > 0);
    for (const copy of fromBuild) {
      assert.equal(copy.from, 'build', `line ${copy.instruction.line}: from the build stage`);
      for (const source of copy.sources) {
        assert.ok(produced.includes(posix.resolve(workdir, source).replace(/\/$/, '')), source);
      }
    }
  });

  it('runs with package.json, bin/, dist/ and the production node_modules in /app, nothing else', async () => {
    const runtime = stage(await dockerfile(), 'runtime');
    assert.equal(workdirOf(runtime), '/app');
    const targets = copies(runtime).flatMap((c) => c.targets);
    assert.deepEqual(targets.sort(), [
      '/app/bin',
      '/app/dist',
      '/app/node_modules',
      '/app/package.json',
    ]);
    const pkg = await packageJson();
    assert.equal(pkg.type, 'module', 'package.json makes bin/ and dist/ ES modules');
    assert.deepEqual(pkg.bin, { credcache: 'bin/credcache.js' });
    assert.ok(await exists(pkg.bin.credcache ?? ''));
    if (pkg.main !== undefined) assert.ok(await exists(pkg.main), `main ${pkg.main} exists`);
    // bin/credcache.js loads dist/…, which tsc makes from src/… (rootDir → outDir).
    const tsconfig = await buildTsconfig();
    const bin = await read('bin/credcache.js');
    const imports = [...bin.matchAll(/(?:from |import\()'(\.[^']+)'/g)].map((m) => m[1] ?? '');
    assert.deepEqual(imports, ['../dist/cli/cli.js']);
    for (const specifier of imports) {
      const inImage = posix.resolve('/app/bin', specifier);
      assert.ok(inImage.startsWith('/app/dist/'), `${specifier} is in the copied dist/`);
      const fromRepo = posix.normalize(posix.join('bin', specifier));
      const source = posix
        .join(
          tsconfig.compilerOptions.rootDir,
          posix.relative(tsconfig.compilerOptions.outDir, fromRepo),
        )
        .replace(/\.js$/, '.ts');
      assert.ok(await exists(source), `${specifier} is built from ${source}`);
    }
  });

  it('needs only production dependencies at run time', async () => {
    const pkg = await packageJson();
    const files = (await filesUnder('src/')).filter((path) => path.endsWith('.ts'));
    assert.ok(files.length > 10);
    const used = new Set<string>();
    for (const path of [...files, 'bin/credcache.js']) {
      // What tsc emits: type-only imports are gone, `import { type X }` keeps the module.
      const output = path.endsWith('.ts')
        ? ts.transpileModule(await read(path), {
            compilerOptions: {
              module: ts.ModuleKind.ESNext,
              target: ts.ScriptTarget.ES2023,
              verbatimModuleSyntax: true,
            },
            fileName: path,
          }).outputText
        : await read(path);
      const specifiers = [
        ...output.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm),
        ...output.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
        ...output.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ].map((m) => m[1] ?? '');
      for (const specifier of specifiers) {
        if (specifier.startsWith('.') || isBuiltin(specifier)) continue;
        const parts = specifier.split('/');
        used.add(parts.slice(0, specifier.startsWith('@') ? 2 : 1).join('/'));
      }
    }
    assert.ok(used.has('express') && used.has('@aws-sdk/client-lakeformation'), [...used].join());
    for (const name of used) {
      assert.ok(name in pkg.dependencies, `${name} is a production dependency`);
    }
  });

  it('runs the documented command as a numeric non-root user under tini, stopped by SIGTERM', async () => {
    const runtime = stage(await dockerfile(), 'runtime');
    const { config, runAsUser, sidecar } = await k8s();
    // The user: numeric (runAsNonRoot can verify it), not root, the pod's runAsUser.
    const user = /^(\d+)(?::(\d+))?$/.exec(one(runtime, 'USER').args);
    assert.ok(user, 'a numeric USER');
    const uid = Number(user[1]);
    assert.notEqual(uid, 0);
    assert.equal(uid, runAsUser, 'deploy/k8s runs the pod as the image user');
    assert.equal(one(runtime, 'STOPSIGNAL').args, 'SIGTERM');
    // tini and ca-certificates from Debian, with no recommends and no apt lists left behind:
    // the proxies' caFile in deploy/ (TLS verify-full to Redshift) is ca-certificates' bundle.
    const run = commands(runtime);
    assert.ok(
      run.includes('apt-get install -y --no-install-recommends tini ca-certificates'),
      run.join('\n'),
    );
    const ecs = buildConfig(parse(await read('deploy/ecs/credcache.yaml')), { env: {} });
    for (const proxy of [...config.proxies, ...ecs.proxies]) {
      assert.equal(proxy.caFile, '/etc/ssl/certs/ca-certificates.crt', 'a file the image holds');
    }
    assert.ok(run.includes('rm -rf /var/lib/apt/lists/*'));
    const entrypoint = exec(one(runtime, 'ENTRYPOINT').args);
    const cmd = exec(one(runtime, 'CMD').args);
    assert.deepEqual(entrypoint.slice(0, 2), ['/usr/bin/tini', '--']);
    assert.deepEqual(
      [...entrypoint.slice(2), ...cmd],
      ['node', '/app/bin/credcache.js', 'serve', '--config', CONFIG_PATH],
    );
    assert.equal(`credcache ${cmd.join(' ')}`, COMMAND);
    // `credcache` itself is on the PATH, for `docker exec … credcache get <target>`.
    assert.ok(run.includes(`ln -s ${entrypoint[3] ?? ''} /usr/local/bin/credcache`));
    assert.ok((await stat(new URL('bin/credcache.js', root))).mode & 0o111, 'bin is executable');
    assert.deepEqual(sidecar.args, cmd, 'deploy/k8s passes the same arguments');
    const env = new Map(all(runtime, 'ENV').flatMap((i) => [...pairs(i.args)]));
    assert.deepEqual(Object.fromEntries(env), {
      NODE_ENV: 'production',
      CREDCACHE_CONFIG: CONFIG_PATH,
      MALLOC_ARENA_MAX: '1',
    });
    // Writable: the token's directory (deploy/k8s config) and /tmp; the ports: listen, probeListen.
    const tokenFile = config.auth.tokenFile;
    assert.ok(tokenFile);
    assert.deepEqual(exec(one(runtime, 'VOLUME').args), [posix.dirname(tokenFile), '/tmp']);
    assert.ok(
      run.some((command) =>
        command.includes(
          `install -d -o ${uid} -g ${user[2] ?? uid} -m 0700 ${posix.dirname(tokenFile)}`,
        ),
      ),
      'the token directory belongs to the user',
    );
    assert.deepEqual(one(runtime, 'EXPOSE').args.split(/\s+/).map(Number), [
      config.listen.port,
      config.probeListen?.port,
    ]);
    assert.deepEqual([config.listen.port, config.probeListen?.port], [9911, 9912]);
  });

  it('says in README.md which command the image runs', async () => {
    const readme = await read('README.md');
    assert.ok(readme.includes(COMMAND), `README.md mentions \`${COMMAND}\``);
  });

  it('carries OCI labels from package.json', async () => {
    const runtime = stage(await dockerfile(), 'runtime');
    const pkg = await packageJson();
    const args = new Map(all(runtime, 'ARG').flatMap((i) => [...pairs(i.args)]));
    const labels = new Map(all(runtime, 'LABEL').flatMap((i) => [...pairs(i.args)]));
    const label = (name: string) =>
      substitute(labels.get(`org.opencontainers.image.${name}`) ?? '', args);
    assert.equal(label('title'), pkg.name);
    assert.equal(label('description'), pkg.description);
    assert.equal(label('licenses'), pkg.license);
    assert.equal(label('version'), pkg.version);
    assert.ok(labels.has('org.opencontainers.image.source'));
    assert.ok(labels.has('org.opencontainers.image.revision'));
  });

  it('has a health check that asks /readyz on the probe listener: 200 healthy, else not', async () => {
    const runtime = stage(await dockerfile(), 'runtime');
    const { config, sidecar } = await k8s();
    const healthcheck = flags(one(runtime, 'HEALTHCHECK').args);
    assert.deepEqual([...healthcheck.flags.keys()].sort(), [
      'interval',
      'retries',
      'start-period',
      'timeout',
    ]);
    assert.equal(healthcheck.words[0], 'CMD');
    const [command, option, script = ''] = exec(healthcheck.words.slice(1).join(' '));
    assert.deepEqual([command, option], ['node', '-e']);
    const url = /'(http:\/\/127\.0\.0\.1:(\d+)(\/[a-z]+))'/.exec(script);
    assert.ok(url?.[1], script);
    assert.equal(Number(url[2]), config.probeListen?.port, 'the probe listener of deploy/k8s');
    assert.equal(url[3], sidecar.readinessProbe.httpGet.path);
    assert.equal(url[3], '/readyz');

    // The script itself, pointed at a local server instead of port 9912.
    let status = 200;
    const paths: string[] = [];
    const server = createServer((request, response) => {
      paths.push(request.url ?? '');
      response.writeHead(status).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const local = script.replace(url[1], `http://127.0.0.1:${port}${url[3]}`);
    try {
      assert.equal(await runNode(local), 0, '200: healthy');
      status = 503;
      assert.equal(await runNode(local), 1, '503: unhealthy');
      assert.deepEqual(paths, ['/readyz', '/readyz']);
    } finally {
      server.close();
      await once(server, 'close');
    }
    assert.equal(await runNode(local), 1, 'nothing listening: unhealthy');
  });
});
