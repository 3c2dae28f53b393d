/**
 * The ECS example (deploy/ecs): the task definition held to a strict schema of the fields it uses
 * (an unknown field, such as a misspelt one, fails), its invariants checked against the daemon's
 * own reading of deploy/ecs/credcache.yaml, the IAM policies held to their shape and to exactly the
 * actions the daemon needs; then the pieces run for real: the init container's script writes the
 * config, the daemon starts with it and the credcache container's command and environment, the
 * health check command passes only on a 200 from /readyz, and the AWS SDK for JavaScript started
 * through the app container's entry point reads the target's credentials even with the
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI the ECS agent injects into every container.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'yaml';
import { z } from 'zod';
import { buildConfig } from '../../src/config/config.js';
import { isLoopbackHost } from '../../src/net/loopback.js';
import { freePort } from '../clients/helpers.js';
import { type ProcessIdentity, mayRead, runReportsCommand } from './redshift-shapes.js';

const DIR = new URL('../../deploy/ecs/', import.meta.url);
const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = new URL('../../bin/credcache.js', import.meta.url).pathname;

// --- The task definition's schema: the fields deploy/ecs uses, with ECS's own limits ---------

const name = z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'letters, digits, - and _');
const roleArn = z.string().regex(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'an IAM role ARN');
const keyValue = z.strictObject({ name: z.string().min(1), value: z.string() });
const secret = z.strictObject({
  name: z.string().min(1),
  valueFrom: z.string().regex(/^arn:aws:(ssm|secretsmanager):[a-z0-9-]+:\d{12}:/, 'an ARN'),
});
const mountPoint = z.strictObject({
  sourceVolume: name,
  containerPath: z.string().startsWith('/'),
  readOnly: z.boolean(),
});
const dependency = z.strictObject({
  containerName: name,
  condition: z.enum(['START', 'COMPLETE', 'SUCCESS', 'HEALTHY']),
});
const healthCheck = z.strictObject({
  command: z.tuple([z.literal('CMD')], z.string()),
  interval: z.number().int().min(5).max(300),
  timeout: z.number().int().min(2).max(60),
  retries: z.number().int().min(1).max(10),
  startPeriod: z.number().int().min(0).max(300),
});
const portMapping = z.strictObject({
  name: name.optional(),
  containerPort: z.number().int().min(1).max(65_535),
  protocol: z.enum(['tcp', 'udp']),
});
const logConfiguration = z.strictObject({
  logDriver: z.literal('awslogs'),
  options: z.strictObject({
    'awslogs-group': z.string().min(1),
    'awslogs-region': z.string().min(1),
    'awslogs-stream-prefix': z.string().min(1),
    mode: z.enum(['blocking', 'non-blocking']).optional(),
    'max-buffer-size': z
      .string()
      .regex(/^\d+[km]?$/)
      .optional(),
  }),
});
const container = z.strictObject({
  name,
  image: z.string().min(1),
  essential: z.boolean(),
  user: z.string().regex(/^\d+(:\d+)?$/, 'a numeric uid[:gid]'),
  entryPoint: z.array(z.string().min(1)).min(1).optional(),
  command: z.array(z.string()).min(1).optional(),
  environment: z.array(keyValue).optional(),
  secrets: z.array(secret).optional(),
  dependsOn: z.array(dependency).optional(),
  readonlyRootFilesystem: z.boolean(),
  linuxParameters: z
    .strictObject({ capabilities: z.strictObject({ drop: z.array(z.string()).min(1) }) })
    .optional(),
  mountPoints: z.array(mountPoint),
  portMappings: z.array(portMapping).optional(),
  healthCheck: healthCheck.optional(),
  stopTimeout: z.number().int().min(2).max(120).optional(),
  cpu: z.number().int().min(0),
  memory: z.number().int().min(6).optional(),
  memoryReservation: z.number().int().min(6),
  logConfiguration,
});
const taskDefinitionSchema = z.strictObject({
  family: name,
  networkMode: z.literal('awsvpc'),
  requiresCompatibilities: z.tuple([z.literal('FARGATE')]),
  cpu: z.string().regex(/^\d+$/),
  memory: z.string().regex(/^\d+$/),
  executionRoleArn: roleArn,
  taskRoleArn: roleArn,
  volumes: z.array(z.strictObject({ name })).min(1),
  containerDefinitions: z.array(container).min(1),
});
type TaskDefinition = z.infer<typeof taskDefinitionSchema>;
type Container = z.infer<typeof container>;

/** The memory sizes (MiB) Fargate accepts with each task CPU size. */
const FARGATE_SIZES: Readonly<Record<string, readonly number[]>> = {
  '256': [512, 1024, 2048],
  '512': [1024, 2048, 3072, 4096],
  '1024': [2048, 3072, 4096, 5120, 6144, 7168, 8192],
  '2048': Array.from({ length: 13 }, (_, i) => 4096 + i * 1024),
  '4096': Array.from({ length: 23 }, (_, i) => 8192 + i * 1024),
};

// --- IAM policy documents ---------------------------------------------------------------------

const oneOrMore = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const permissionsPolicySchema = z.strictObject({
  Version: z.literal('2012-10-17'),
  Statement: z
    .array(
      z.strictObject({
        Sid: z
          .string()
          .regex(/^[A-Za-z0-9]+$/)
          .optional(),
        Effect: z.enum(['Allow', 'Deny']),
        Action: oneOrMore,
        Resource: oneOrMore,
      }),
    )
    .min(1),
});
type PermissionsPolicy = z.infer<typeof permissionsPolicySchema>;
const trustPolicySchema = z.strictObject({
  Version: z.literal('2012-10-17'),
  Statement: z
    .array(
      z.strictObject({
        Effect: z.literal('Allow'),
        Principal: z.strictObject({ Service: z.literal('ecs-tasks.amazonaws.com') }),
        Action: z.literal('sts:AssumeRole'),
        Condition: z.strictObject({
          StringEquals: z.strictObject({ 'aws:SourceAccount': z.string().regex(/^\d{12}$/) }),
          ArnLike: z.strictObject({ 'aws:SourceArn': z.string().startsWith('arn:aws:ecs:') }),
        }),
      }),
    )
    .length(1),
});

/** The task role's actions: the two Lake Formation calls, the permission Lake Formation requires
 * of their caller, and the Redshift Serverless call. */
const TASK_ROLE_ACTIONS = [
  'lakeformation:GetDataAccess',
  'lakeformation:GetTemporaryGluePartitionCredentials',
  'lakeformation:GetTemporaryGlueTableCredentials',
  'redshift-serverless:GetCredentials',
];

const list = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(new URL(file, DIR), 'utf8')) as unknown;
}

async function taskDefinition(): Promise<TaskDefinition> {
  return taskDefinitionSchema.parse(await readJson('task-definition.json'));
}

function containerNamed(task: TaskDefinition, containerName: string): Container {
  const found = task.containerDefinitions.filter((c) => c.name === containerName);
  assert.equal(found.length, 1, `one container named ${containerName}`);
  const [first] = found;
  if (first === undefined) assert.fail(`no container ${containerName}`);
  return first;
}

function envOf(c: Container, variable: string): string | undefined {
  return c.environment?.find((e) => e.name === variable)?.value;
}

function mountOf(c: Container, volume: string) {
  return c.mountPoints.find((m) => m.sourceVolume === volume);
}

async function daemonConfigText(): Promise<string> {
  return readFile(new URL('credcache.yaml', DIR), 'utf8');
}

/** What the credcache container reads: the config file with the container's environment. */
async function daemonConfig() {
  const credcache = containerNamed(await taskDefinition(), 'credcache');
  const env = Object.fromEntries((credcache.environment ?? []).map((e) => [e.name, e.value]));
  return buildConfig(parse(await daemonConfigText()), { env, origin: 'deploy/ecs' });
}

/** A container's user and its one group (`user: "uid:gid"`; ECS has no supplementary groups). */
function identityOf(c: Container): ProcessIdentity {
  const [uid, gid] = c.user.split(':').map(Number);
  assert.ok(uid !== undefined && gid !== undefined, `${c.name}: user is uid:gid`);
  return { uid, gids: [gid] };
}

/** The URL the health check command fetches. */
function healthCheckUrl(c: Container): URL {
  const script = c.healthCheck?.command.join(' ') ?? '';
  const found = /fetch\('([^']+)'/.exec(script)?.[1];
  assert.ok(found, 'the health check fetches a URL');
  return new URL(found);
}

async function run(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [file, ...args] = argv;
  if (file === undefined) assert.fail('nothing to run');
  const child = spawn(file, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Runs the health check command (`CMD` form: the words after `CMD`) against `origin`. */
async function runHealthCheck(c: Container, origin: string): Promise<number | null> {
  const words = (c.healthCheck?.command ?? []).slice(1);
  const url = healthCheckUrl(c);
  const argv = words.map((word, i) =>
    i === 0 && word === 'node' ? process.execPath : word.replace(url.origin, origin),
  );
  return (await run(argv, { PATH: process.env.PATH })).code;
}

describe('ECS task definition (deploy/ecs)', function () {
  this.timeout(30_000);

  it('matches the schema of the fields it uses; an unknown (misspelt) field fails', async () => {
    const raw = await readJson('task-definition.json');
    const task = taskDefinitionSchema.parse(raw);
    // A typo must not pass as an ignored field: ECS would reject it, or worse, drop a setting.
    const typo = structuredClone(task) as unknown as { containerDefinitions: object[] };
    typo.containerDefinitions[0] = {
      ...typo.containerDefinitions[0],
      readOnlyRootFilesystem: true,
    };
    assert.equal(taskDefinitionSchema.safeParse(typo).success, false);
    // Fargate sizes: a valid CPU/memory pair, and the containers fit in it.
    assert.ok(FARGATE_SIZES[task.cpu]?.includes(Number(task.memory)), 'a Fargate CPU/memory pair');
    const sum = (pick: (c: Container) => number) =>
      task.containerDefinitions.reduce((total, c) => total + pick(c), 0);
    assert.ok(sum((c) => c.cpu) <= Number(task.cpu), 'container CPU fits the task');
    assert.ok(
      sum((c) => c.memory ?? c.memoryReservation) <= Number(task.memory),
      'container memory fits the task',
    );
    // Every reference resolves: volumes, dependencies; logs stay in the daemon's region.
    const region = (await daemonConfig()).upstream.region;
    const volumes = new Set(task.volumes.map((v) => v.name));
    const names = new Set(task.containerDefinitions.map((c) => c.name));
    assert.equal(names.size, task.containerDefinitions.length, 'unique container names');
    for (const c of task.containerDefinitions) {
      for (const m of c.mountPoints) assert.ok(volumes.has(m.sourceVolume), m.sourceVolume);
      for (const d of c.dependsOn ?? []) {
        assert.ok(names.has(d.containerName), d.containerName);
        assert.notEqual(d.containerName, c.name);
      }
      assert.equal(c.readonlyRootFilesystem, true, `${c.name}: read-only root filesystem`);
      assert.equal(c.logConfiguration.options['awslogs-region'], region, `${c.name}: log region`);
    }
  });

  it('runs credcache essential, locked down, health-checked on the probe port, outliving its drain', async () => {
    const task = await taskDefinition();
    const config = await daemonConfig();
    const credcache = containerNamed(task, 'credcache');
    assert.equal(credcache.essential, true);
    assert.equal(credcache.entryPoint, undefined, "the image's entry point (tini, node) is kept");
    assert.deepEqual(credcache.command, ['serve', '--config', '/etc/credcache/credcache.yaml']);
    // A numeric, non-root user; every capability dropped.
    const uid = Number(credcache.user.split(':')[0]);
    assert.ok(uid > 0, 'non-root');
    assert.deepEqual(credcache.linuxParameters?.capabilities.drop, ['ALL']);
    // The health check hits /readyz on the probe listener the config opens, on loopback.
    assert.ok(config.probeListen);
    const url = healthCheckUrl(credcache);
    assert.equal(url.hostname, '127.0.0.1');
    assert.equal(Number(url.port), config.probeListen.port);
    assert.equal(url.pathname, '/readyz');
    // Both listeners on loopback: the health check runs inside the task, and nothing outside it
    // needs them (Prometheus from outside: docs/deploy.md). No port mapped: none would answer.
    assert.equal(config.probeListen.host, '127.0.0.1');
    assert.equal(config.listen.host, '127.0.0.1');
    for (const c of task.containerDefinitions) {
      assert.deepEqual(c.portMappings ?? [], [], c.name);
    }
    // SIGTERM waits shutdownGraceSeconds for requests in flight; ECS waits longer before SIGKILL.
    assert.ok((credcache.stopTimeout ?? 30) > config.shutdownGraceSeconds);
    assert.ok(credcache.memory !== undefined && credcache.memoryReservation <= credcache.memory);
    // The config comes from the init container, read-only here, where the command names it.
    const configMount = mountOf(credcache, 'credcache-config');
    assert.equal(configMount?.containerPath, '/etc/credcache');
    assert.equal(configMount.readOnly, true);
    assert.deepEqual(credcache.dependsOn, [
      { containerName: 'credcache-config', condition: 'SUCCESS' },
    ]);
    assert.equal(mountOf(credcache, 'tmp')?.containerPath, '/tmp');
  });

  it('writes the config from an SSM parameter in a non-essential init container', async () => {
    const task = await taskDefinition();
    const init = containerNamed(task, 'credcache-config');
    const credcache = containerNamed(task, 'credcache');
    assert.equal(init.essential, false, 'an init container exits; it must not stop the task');
    assert.equal(init.image, credcache.image, 'the same image: nothing else to pull or trust');
    assert.deepEqual(init.entryPoint, ['/bin/sh', '-c']);
    const [parameter] = init.secrets ?? [];
    assert.equal(parameter?.name, 'CREDCACHE_CONFIG_YAML');
    assert.match(parameter.valueFrom, /^arn:aws:ssm:[a-z0-9-]+:\d{12}:parameter\/.+/);
    assert.equal(init.healthCheck, undefined);
    for (const volume of ['credcache-config', 'credcache-token', 'tmp']) {
      assert.equal(mountOf(init, volume)?.containerPath, mountOf(credcache, volume)?.containerPath);
      assert.equal(mountOf(init, volume)?.readOnly, false);
    }
    // No other container sees the parameter.
    for (const c of task.containerDefinitions) {
      if (c !== init) assert.equal(c.secrets, undefined, c.name);
    }
  });

  it('opens no listener on a wildcard address (0.0.0.0, ::), nor beyond loopback', async () => {
    const config = await daemonConfig();
    const credcache = containerNamed(await taskDefinition(), 'credcache');
    assert.ok(config.probeListen);
    for (const [field, address] of [
      ['listen', config.listen],
      ['probeListen', config.probeListen],
    ] as const) {
      assert.ok(!['0.0.0.0', '::'].includes(address.host), `${field} on ${address.host}`);
      assert.ok(isLoopbackHost(address.host), `${field} on ${address.host}`);
    }
    for (const proxy of config.proxies) {
      assert.match(proxy.listen, /^127\.0\.0\.1:\d+$/, 'proxies[].listen');
    }
    assert.equal(config.allowNonLoopback, false);
    // Nothing in the container's environment moves a listener.
    assert.deepEqual(
      (credcache.environment ?? []).filter((e) => /LISTEN|NON_LOOPBACK/.test(e.name)),
      [],
    );
  });

  it('gives the app a configured target through FULL_URI and the token file, after credcache is healthy', async () => {
    const task = await taskDefinition();
    const config = await daemonConfig();
    const credcache = containerNamed(task, 'credcache');
    const app = containerNamed(task, 'app');
    assert.equal(app.essential, true);
    assert.deepEqual(app.dependsOn, [{ containerName: 'credcache', condition: 'HEALTHY' }]);
    assert.ok(credcache.healthCheck, 'HEALTHY needs a health check');
    // The token: credcache writes it where auth.tokenFile says; the app reads it, read-only.
    const tokenFile = config.auth.tokenFile;
    assert.ok(tokenFile);
    assert.equal(mountOf(credcache, 'credcache-token')?.containerPath, dirname(tokenFile));
    assert.equal(mountOf(credcache, 'credcache-token')?.readOnly, false);
    assert.equal(mountOf(app, 'credcache-token')?.containerPath, dirname(tokenFile));
    assert.equal(mountOf(app, 'credcache-token')?.readOnly, true);
    assert.equal(envOf(app, 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'), tokenFile);
    // The file is 0640, credcache's user's and group's: the app runs as another user in that group.
    assert.equal(config.auth.tokenFileMode, 0o640);
    assert.notEqual(identityOf(app).uid, identityOf(credcache).uid);
    assert.equal(identityOf(app).gids[0], identityOf(credcache).gids[0]);
    assert.ok(identityOf(app).uid > 0, 'non-root');
    // FULL_URI: credcache's loopback listener, a Lake Formation target of the config.
    const uri = new URL(envOf(app, 'AWS_CONTAINER_CREDENTIALS_FULL_URI') ?? '');
    assert.equal(uri.protocol, 'http:');
    assert.equal(uri.hostname, '127.0.0.1');
    assert.equal(Number(uri.port), config.listen.port);
    const target = /^\/v1\/targets\/([a-z0-9-]+)$/.exec(uri.pathname)?.[1];
    assert.ok(
      config.targets.some((t) => t.name === target && t.source !== 'redshift_serverless'),
      `${uri.pathname} names a Lake Formation target of deploy/ecs/credcache.yaml`,
    );
    // The ECS agent injects AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (the task role) into every
    // container, overwriting any value the definition sets, and the SDKs prefer it to FULL_URI:
    // the app's entry point removes it before the app starts.
    assert.deepEqual(app.entryPoint, ['env', '-u', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']);
    assert.equal(envOf(app, 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'), undefined);
    assert.ok(app.command && app.command.length > 0, 'the app command follows the entry point');
  });

  it("gives the app containers the 0640 token and sinks through credcache's group, and reports the Redshift proxy on localhost, after credcache is healthy", async () => {
    const task = await taskDefinition();
    const config = await daemonConfig();
    const init = containerNamed(task, 'credcache-config');
    const credcache = containerNamed(task, 'credcache');
    const reports = containerNamed(task, 'reports');
    const tokenFile = config.auth.tokenFile;
    assert.ok(tokenFile);
    const volume = dirname(tokenFile);
    // Files credcache writes belong to its user and its group (the volume is not setgid).
    const daemon = identityOf(credcache);
    const [daemonGid] = daemon.gids;
    assert.ok(daemonGid !== undefined);
    const outsider: ProcessIdentity = { uid: 65534, gids: [65534] };
    const readers = task.containerDefinitions.filter(
      (c) => c !== init && c !== credcache && mountOf(c, 'credcache-token') !== undefined,
    );
    assert.deepEqual(readers.map((c) => c.name).sort(), ['app', 'reports']);
    // The init script opens the folder to the group (0750): the readers must get through it.
    assert.match(init.command?.[0] ?? '', new RegExp(`chmod 0750 ${volume};`));
    assert.ok(config.sinks.some((sink) => sink.format === 'aws-credentials'));
    const files = [
      { path: tokenFile, mode: config.auth.tokenFileMode },
      ...config.sinks.map((sink) => ({ path: sink.path, mode: sink.mode })),
    ];
    for (const { path, mode } of files) {
      assert.equal(dirname(path), volume, `${path} is in the shared volume`);
      const file = { mode, uid: daemon.uid, gid: daemonGid };
      for (const c of readers) {
        assert.notEqual(identityOf(c).uid, daemon.uid, `${c.name} is not credcache's user`);
        assert.ok(mayRead(file, identityOf(c)), `${c.name} reads ${path}`);
        assert.equal(mountOf(c, 'credcache-token')?.containerPath, volume, c.name);
        assert.equal(mountOf(c, 'credcache-token')?.readOnly, true, c.name);
        assert.deepEqual(c.dependsOn, [{ containerName: 'credcache', condition: 'HEALTHY' }]);
      }
      assert.ok(!mayRead(file, outsider), `no one outside the group reads ${path}`);
      assert.equal(mode & 0o037, 0, `${path}: group reads only, others nothing`);
    }
    for (const sink of config.sinks.filter((s) => s.format === 'pgpass')) {
      assert.equal(sink.mode & 0o077, 0, `${sink.path}: libpq ignores a pgpass group can read`);
    }
    // The proxy: loopback (awsvpc: the task's containers share it), where reports looks, TLS
    // verified with the image's CA file; reports takes the token file as its password.
    assert.equal(config.proxies.length, 1);
    const [proxy] = config.proxies;
    assert.ok(proxy);
    assert.equal(
      config.targets.find((t) => t.name === proxy.target)?.source,
      'redshift_serverless',
    );
    const listen = /^127\.0\.0\.1:(\d+)$/.exec(proxy.listen);
    assert.ok(listen, proxy.listen);
    assert.equal(envOf(reports, 'PGHOST'), '127.0.0.1');
    assert.equal(envOf(reports, 'PGPORT'), listen[1]);
    assert.equal(proxy.tls, 'verify-full');
    assert.equal(proxy.caFile, '/etc/ssl/certs/ca-certificates.crt');
    assert.equal(proxy.clientAuth, 'token');
    assert.match(
      proxy.upstream,
      /^[a-z0-9-]+\.\d{12}\.[a-z0-9-]+\.redshift-serverless\.amazonaws\.com:5439$/,
    );
    assert.ok((reports.command ?? []).join(' ').includes(`PGPASSWORD="$(cat ${tokenFile})"`));
    assert.equal(reports.readonlyRootFilesystem, true);
    assert.deepEqual(reports.linuxParameters?.capabilities.drop, ['ALL']);
  });

  it('starts: the init script writes the config, the daemon serves it, the health check and the app SDK pass', async () => {
    const task = await taskDefinition();
    const init = containerNamed(task, 'credcache-config');
    const credcache = containerNamed(task, 'credcache');
    const app = containerNamed(task, 'app');
    const dir = await mkdtemp(join(tmpdir(), 'credcache-ecs-'));
    // The task's volumes, as directories on this machine.
    const volumes: Record<string, string> = {
      '/etc/credcache': join(dir, 'config'),
      '/var/run/credcache': join(dir, 'token'),
      '/tmp': join(dir, 'tmp'),
    };
    for (const path of Object.values(volumes)) await mkdir(path, { mode: 0o755 });
    const local = (text: string) =>
      text.replace(
        /\/etc\/credcache|\/var\/run\/credcache|\/tmp(?![\w/])/g,
        (p) => volumes[p] ?? p,
      );
    // The parameter's value: deploy/ecs/credcache.yaml with free ports in place of 9911/9912
    // (the assertions above tie those to the app and the health check) and the local volumes.
    // The proxy on a free port in place of 5439, its Redshift endpoint a closed loopback port.
    const [proxy] = (await daemonConfig()).proxies;
    assert.ok(proxy);
    const proxyPort = await freePort();
    const closedPort = await freePort();
    const configText = local(await daemonConfigText())
      .replace(/^listen: 127\.0\.0\.1:\d+/m, 'listen: 127.0.0.1:0')
      .replace(/^probeListen: 127\.0\.0\.1:\d+/m, 'probeListen: 127.0.0.1:0')
      .replace(`listen: ${proxy.listen}`, `listen: 127.0.0.1:${proxyPort}`)
      .replace(`upstream: ${proxy.upstream}`, `upstream: 127.0.0.1:${closedPort}`);
    // The init container's script, with the volume paths of this machine; as root it hands the
    // token directory to 10001, elsewhere to the user running the test.
    const [shell, flag] = init.entryPoint ?? [];
    assert.equal(shell, '/bin/sh');
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const script = local(init.command?.[0] ?? '').replace(
      'chown 10001:10001',
      uid === 0 ? 'chown 10001:10001' : `chown ${uid}:${gid}`,
    );
    const empty = await run([shell, flag ?? '-c', script], {
      PATH: process.env.PATH,
      CREDCACHE_CONFIG_YAML: '',
    });
    assert.notEqual(empty.code, 0, 'an empty parameter fails the init container');
    const written = await run([shell, flag ?? '-c', script], {
      PATH: process.env.PATH,
      CREDCACHE_CONFIG_YAML: configText,
    });
    assert.equal(written.code, 0, written.stderr);
    const configFile = join(volumes['/etc/credcache'] ?? '', 'credcache.yaml');
    assert.deepEqual(parse(await readFile(configFile, 'utf8')), parse(configText));
    assert.equal((await stat(configFile)).mode & 0o777, 0o444);
    const tokenDir = await stat(volumes['/var/run/credcache'] ?? '');
    assert.equal(tokenDir.mode & 0o7777, 0o750);
    assert.equal(tokenDir.uid, uid === 0 ? 10001 : uid);
    assert.equal((await stat(volumes['/tmp'] ?? '')).mode & 0o7777, 0o1777);

    // The credcache container: its command (config path on the local volume) and environment.
    const command = (credcache.command ?? []).map(local);
    const child = spawn(process.execPath, [BIN, ...command, '--emulator'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...Object.fromEntries((credcache.environment ?? []).map((e) => [e.name, e.value])),
      },
    });
    try {
      const lines = createInterface({ input: child.stdout });
      let started: { listen: string; probeListen: string } | undefined;
      for await (const line of lines) {
        const parsed = JSON.parse(line) as { msg: string; listen: string; probeListen: string };
        if (parsed.msg === 'credcache listening') {
          started = parsed;
          break;
        }
      }
      assert.ok(started, 'the daemon started');
      // The health check command, as ECS runs it, against the probe listener; and its failures.
      assert.equal(await runHealthCheck(credcache, started.probeListen), 0);
      const unready = createServer((_req, res) => res.writeHead(503).end('{}'));
      unready.listen(0, '127.0.0.1');
      await once(unready, 'listening');
      const port = (unready.address() as AddressInfo).port;
      try {
        assert.equal(await runHealthCheck(credcache, `http://127.0.0.1:${port}`), 1, '503');
      } finally {
        unready.close();
        await once(unready, 'close');
      }
      assert.equal(await runHealthCheck(credcache, `http://127.0.0.1:${port}`), 1, 'refused');

      // The token file credcache created in the shared volume.
      const tokenFile = local(envOf(app, 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE') ?? '');
      assert.equal((await stat(tokenFile)).mode & 0o777, 0o640);
      const token = await readFile(tokenFile, 'utf8');
      for (const sink of (await daemonConfig()).sinks) {
        const path = local(sink.path);
        assert.equal((await stat(path)).mode & 0o777, sink.mode, path);
        if (sink.format === 'aws-credentials') {
          assert.match(await readFile(path, 'utf8'), new RegExp(`^\\[${sink.target}\\]$`, 'm'));
        }
      }
      // reports: its entry point and command as ECS runs them, the token into PGPASSWORD, psql
      // through the proxy, which takes the token and finds the endpoint unreachable (08006).
      const reports = containerNamed(task, 'reports');
      const ran = await runReportsCommand(
        [...(reports.entryPoint ?? []), ...(reports.command ?? []).map(local)],
        {
          ...Object.fromEntries((reports.environment ?? []).map((e) => [e.name, e.value])),
          PGPORT: String(proxyPort),
        },
      );
      assert.equal(ran.env.PGPASSWORD, token, ran.stderr);
      assert.equal(ran.outcome, '08006', ran.stderr);
      const uri = new URL(envOf(app, 'AWS_CONTAINER_CREDENTIALS_FULL_URI') ?? '');
      const direct = await fetch(`${started.listen}${uri.pathname}`, {
        headers: { authorization: await readFile(tokenFile, 'utf8') },
      });
      assert.equal(direct.status, 200);
      const expected = (await direct.json()) as { AccessKeyId: string };

      // The app: its entry point, then the AWS SDK's default chain, with the environment ECS
      // gives it, including the RELATIVE_URI the agent injects (the task role's endpoint).
      const sdk = [
        "const { defaultProvider } = await import('@aws-sdk/credential-provider-node');",
        'const credentials = await defaultProvider()();',
        'process.stdout.write(credentials.accessKeyId);',
      ].join('\n');
      const appEnv = Object.fromEntries(
        (app.environment ?? []).map((e) => [e.name, local(e.value)]),
      );
      const result = await run(
        [...(app.entryPoint ?? []), process.execPath, '--input-type=module', '-e', sdk],
        {
          PATH: process.env.PATH,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...appEnv,
          AWS_CONTAINER_CREDENTIALS_FULL_URI: `${started.listen}${uri.pathname}`,
          AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/injected-by-the-ecs-agent',
        },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, expected.AccessKeyId, "the SDK read credcache's target");
    } finally {
      const stopping = Date.now();
      const exited =
        child.exitCode === null ? once(child, 'exit') : Promise.resolve([child.exitCode]);
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0);
      assert.ok(Date.now() - stopping < (credcache.stopTimeout ?? 30) * 1000);
    }
  });

  it('agrees with the image (Dockerfile): user, command, volumes, shell, health check URL', async () => {
    const task = await taskDefinition();
    const credcache = containerNamed(task, 'credcache');
    const init = containerNamed(task, 'credcache-config');
    const text = await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8');
    // Instructions, continuation lines joined; the last of each kind is the runtime stage's.
    const instructions = text
      .replace(/\\\n/g, ' ')
      .split('\n')
      .filter((line) => /^[A-Z]+\s/.test(line));
    const last = (keyword: string) => {
      const found = instructions.filter((line) => line.startsWith(`${keyword} `)).at(-1);
      assert.ok(found, `the Dockerfile has ${keyword}`);
      return found.slice(keyword.length + 1).trim();
    };
    const json = (keyword: string) => z.array(z.string()).parse(JSON.parse(last(keyword)));
    assert.equal(credcache.user, last('USER'), 'the image user; the app runs as it too');
    assert.deepEqual(credcache.command, json('CMD'));
    assert.ok(json('ENTRYPOINT').includes('node'), "credcache keeps the image's entry point");
    // The init container's /bin/sh: a Debian (slim) Node base.
    assert.ok(
      instructions.some((line) =>
        /^ARG NODE_IMAGE=node:[\d.]+-(bookworm|trixie)-slim\b/.test(line),
      ),
    );
    assert.equal(init.entryPoint?.[0], '/bin/sh');
    // With a read-only root filesystem, every path the image declares writable is a task volume.
    for (const path of json('VOLUME')) {
      assert.ok(
        credcache.mountPoints.some((m) => m.containerPath === path && !m.readOnly),
        `${path} is a writable volume of credcache`,
      );
    }
    // The task's health check replaces the image's: both ask the same URL.
    assert.ok(last('HEALTHCHECK').includes(healthCheckUrl(credcache).href));
  });

  it('holds a daemon config that fits the fixed-token alternative for older SDKs only without tokenFile', async () => {
    // Older SDKs and CLIs read only AWS_CONTAINER_AUTHORIZATION_TOKEN: docs/deploy.md (ECS) gives
    // both containers a token from Secrets Manager instead (CREDCACHE_TOKEN to credcache), which
    // the daemon refuses next to auth.tokenFile.
    const document = parse(await daemonConfigText()) as { auth: Record<string, unknown> };
    const env = { CREDCACHE_TOKEN: 'a-token-from-secrets-manager-0123456789' };
    assert.throws(() => buildConfig(document, { env }), /auth\.token: give either/);
    const withoutFile = { ...document, auth: { ...document.auth, tokenFile: undefined } };
    delete withoutFile.auth.tokenFile;
    assert.equal(buildConfig(withoutFile, { env }).auth.token, env.CREDCACHE_TOKEN);
  });
});

describe('ECS IAM policies (deploy/ecs)', () => {
  async function policy(file: string): Promise<PermissionsPolicy> {
    return permissionsPolicySchema.parse(await readJson(file));
  }

  it('task role: exactly the credential calls, no wildcard action, Redshift scoped to a workgroup', async () => {
    const document = await policy('iam-policy.json');
    const config = await daemonConfig();
    const task = await taskDefinition();
    const account = /^arn:aws:iam::(\d{12}):/.exec(task.taskRoleArn)?.[1];
    assert.ok(account);
    const actions = document.Statement.flatMap((s) => list(s.Action));
    assert.deepEqual([...actions].sort(), TASK_ROLE_ACTIONS);
    for (const statement of document.Statement) {
      assert.equal(statement.Effect, 'Allow');
      for (const action of list(statement.Action)) assert.ok(!action.includes('*'), action);
    }
    const redshift = document.Statement.filter((s) =>
      list(s.Action).some((a) => a.startsWith('redshift-serverless:')),
    );
    assert.equal(redshift.length, 1);
    for (const resource of redshift.flatMap((s) => list(s.Resource))) {
      assert.notEqual(resource, '*');
      // Workgroup ARNs carry the workgroup's id, not its name.
      const arn =
        /^arn:aws:redshift-serverless:([a-z0-9-]+):(\d{12}):workgroup\/[0-9a-f-]{36}$/.exec(
          resource,
        );
      assert.ok(arn, resource);
      assert.equal(arn[1], config.upstream.region);
      assert.equal(arn[2], account);
    }
    // Lake Formation's actions take no resource ARN: its grants decide which tables.
    for (const statement of document.Statement) {
      if (list(statement.Action).every((a) => a.startsWith('lakeformation:'))) {
        assert.deepEqual(list(statement.Resource), ['*']);
      } else {
        assert.ok(!list(statement.Resource).includes('*'));
      }
    }
  });

  it('execution role: reads exactly the parameters and secrets the task definition names', async () => {
    const document = await policy('execution-role-policy.json');
    const task = await taskDefinition();
    const named = task.containerDefinitions.flatMap((c) =>
      (c.secrets ?? []).map((s) => s.valueFrom),
    );
    assert.ok(named.length > 0);
    const granted = new Set<string>();
    for (const statement of document.Statement) {
      assert.equal(statement.Effect, 'Allow');
      for (const resource of list(statement.Resource)) {
        assert.ok(named.includes(resource), `${resource} is named by the task definition`);
        const needed = resource.startsWith('arn:aws:ssm:')
          ? 'ssm:GetParameters'
          : 'secretsmanager:GetSecretValue';
        assert.deepEqual(list(statement.Action), [needed]);
        granted.add(resource);
      }
    }
    for (const arn of named) assert.ok(granted.has(arn), `${arn} is readable`);
  });

  it('both roles trust ECS tasks of this account only', async () => {
    const trust = trustPolicySchema.parse(await readJson('trust-policy.json'));
    const task = await taskDefinition();
    for (const arn of [task.taskRoleArn, task.executionRoleArn]) {
      const account = /^arn:aws:iam::(\d{12}):/.exec(arn)?.[1];
      for (const statement of trust.Statement) {
        assert.equal(statement.Condition.StringEquals['aws:SourceAccount'], account);
        assert.ok(statement.Condition.ArnLike['aws:SourceArn'].includes(`:${account}:`));
      }
    }
  });
});
