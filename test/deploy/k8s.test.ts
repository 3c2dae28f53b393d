/**
 * The Kubernetes example (deploy/k8s): rendered as kustomize would (the subset of kustomize it
 * uses), every object validated against the Kubernetes schemas (kubernetes-models), the
 * sidecar's invariants checked, and the daemon started with the manifests' own ConfigMap and
 * environment, answering where the probes and the app look.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse, parseAllDocuments } from 'yaml';
import { buildConfig } from '../../src/config/config.js';
import { freePort } from '../clients/helpers.js';
import { type ProcessIdentity, mayRead, runReportsCommand } from './redshift-shapes.js';

const DIR = new URL('../../deploy/k8s/', import.meta.url);
const BIN = new URL('../../bin/credcache.js', import.meta.url).pathname;

type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
};

const KUSTOMIZATION_FIELDS = [
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'configMapGenerator',
  'generatorOptions',
];

/** kustomize build, for the fields deploy/k8s uses; anything else fails the test. */
async function render(): Promise<Manifest[]> {
  const kustomization = parse(await readFile(new URL('kustomization.yaml', DIR), 'utf8')) as {
    namespace?: string;
    resources?: string[];
    configMapGenerator?: { name: string; files: string[] }[];
    generatorOptions?: { disableNameSuffixHash?: boolean };
  };
  for (const field of Object.keys(kustomization)) {
    assert.ok(KUSTOMIZATION_FIELDS.includes(field), `kustomization field ${field} is not rendered`);
  }
  assert.equal(kustomization.generatorOptions?.disableNameSuffixHash, true);
  const objects: Manifest[] = [];
  for (const file of kustomization.resources ?? []) {
    const text = await readFile(new URL(file, DIR), 'utf8');
    for (const document of parseAllDocuments(text)) objects.push(document.toJS() as Manifest);
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const file of generator.files) data[file] = await readFile(new URL(file, DIR), 'utf8');
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name }, data });
  }
  if (kustomization.namespace) {
    for (const object of objects) object.metadata.namespace = kustomization.namespace;
  }
  return objects;
}

function only<T extends Manifest>(objects: Manifest[], kind: string): T {
  const found = objects.filter((object) => object.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as T;
}

interface Rendered {
  deployment: Deployment;
  configMap: ConfigMap;
  serviceAccount: ServiceAccount;
  podMonitor: PodMonitor;
  sidecar: IContainer;
  app: IContainer;
  reports: IContainer;
  configText: string;
}

async function rendered(): Promise<Rendered> {
  const objects = await render();
  // The models' constructors take their own typed shapes; validate() checks the real ones.
  const deployment = new Deployment(
    only(objects, 'Deployment') as ConstructorParameters<typeof Deployment>[0],
  );
  const configMap = new ConfigMap(
    only(objects, 'ConfigMap') as ConstructorParameters<typeof ConfigMap>[0],
  );
  const serviceAccount = new ServiceAccount(
    only(objects, 'ServiceAccount') as ConstructorParameters<typeof ServiceAccount>[0],
  );
  const podMonitor = new PodMonitor(
    only(objects, 'PodMonitor') as unknown as ConstructorParameters<typeof PodMonitor>[0],
  );
  const pod = deployment.spec?.template.spec;
  assert.ok(pod);
  const sidecar = pod.initContainers?.find((c) => c.name === 'credcache');
  const app = pod.containers.find((c) => c.name === 'app');
  const reports = pod.containers.find((c) => c.name === 'reports');
  assert.ok(sidecar && app && reports);
  const configText = configMap.data?.['credcache.yaml'];
  assert.ok(configText);
  return { deployment, configMap, serviceAccount, podMonitor, sidecar, app, reports, configText };
}

const env = (container: IContainer, name: string) =>
  container.env?.find((variable) => variable.name === name)?.value;

/** An address the pod could get; the kubelet gives it through the downward API (status.podIP). */
const POD_IP = '10.20.30.40';
const WILDCARDS = ['0.0.0.0', '::'];

/**
 * A container's environment as the kubelet builds it: `fieldRef` values from `fields` (the
 * pod's), and `$(NAME)` in a value replaced by a variable defined earlier in the list (`$$` is a
 * literal `$`; an unknown name stays as written).
 */
function containerEnv(
  container: IContainer,
  fields: Readonly<Record<string, string>>,
): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    if (field !== undefined) {
      const value = fields[field];
      assert.ok(value !== undefined, `${variable.name}: no value for ${field} in the test`);
      resolved[variable.name] = value;
      continue;
    }
    assert.equal(variable.valueFrom, undefined, `${variable.name}: only fieldRef is rendered`);
    resolved[variable.name] = (variable.value ?? '').replace(
      /\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
      (whole, name: string | undefined) =>
        whole === '$$'
          ? '$'
          : name !== undefined && name in resolved
            ? (resolved[name] ?? '')
            : whole,
    );
  }
  return resolved;
}

describe('Kubernetes manifests (deploy/k8s)', function () {
  this.timeout(20_000);

  it('render to objects that validate against the Kubernetes schemas', async () => {
    const objects = await render();
    assert.deepEqual(objects.map((object) => object.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'PodMonitor',
      'ServiceAccount',
    ]);
    const { deployment, configMap, serviceAccount, podMonitor } = await rendered();
    for (const model of [deployment, configMap, serviceAccount, podMonitor]) model.validate();
    for (const object of objects) assert.equal(object.metadata.namespace, 'analytics');
  });

  it('run credcache as a native sidecar, locked down, with probes, limits and the token volume', async () => {
    const { deployment, sidecar, app, configText } = await rendered();
    // What the daemon reads in the pod: the ConfigMap's file and the sidecar's environment.
    const config = buildConfig(parse(configText), {
      env: containerEnv(sidecar, { 'status.podIP': POD_IP }),
    });
    const pod = deployment.spec?.template.spec;
    assert.ok(pod);
    assert.equal(sidecar.restartPolicy, 'Always', 'a native sidecar');
    assert.deepEqual(sidecar.args, ['serve', '--config', '/etc/credcache/credcache.yaml']);
    // Probes on the probe listener the config opens.
    const probePort = sidecar.ports?.find((port) => port.name === 'credcache-probe');
    assert.equal(probePort?.containerPort, config.probeListen?.port);
    // On the pod's own IP, where the kubelet and Prometheus connect (CREDCACHE_PROBE_LISTEN).
    assert.equal(config.probeListen?.host, POD_IP);
    assert.equal(sidecar.startupProbe?.httpGet?.path, '/readyz');
    assert.equal(sidecar.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(sidecar.livenessProbe?.httpGet?.path, '/healthz');
    for (const probe of [sidecar.startupProbe, sidecar.readinessProbe, sidecar.livenessProbe]) {
      assert.equal(probe?.httpGet?.port, 'credcache-probe');
    }
    // Resources and a restrictive security context on every container.
    for (const container of [sidecar, ...(pod.containers ?? [])]) {
      assert.ok(container.resources?.requests?.cpu && container.resources.requests.memory);
      assert.ok(container.resources.limits?.cpu && container.resources.limits.memory);
      const security = container.securityContext;
      assert.equal(security?.allowPrivilegeEscalation, false, container.name);
      assert.equal(security?.readOnlyRootFilesystem, true, container.name);
      assert.equal(security?.runAsNonRoot, true, container.name);
      assert.deepEqual(security?.capabilities?.drop, ['ALL'], container.name);
      assert.equal(security?.seccompProfile?.type, 'RuntimeDefault', container.name);
    }
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(typeof pod.securityContext?.runAsUser, 'number');
    assert.ok(
      (pod.terminationGracePeriodSeconds ?? 30) > config.shutdownGraceSeconds,
      'the pod waits longer than the daemon drains',
    );
    // The token: an in-memory volume, written by credcache where its config says, read by the app.
    const tokenFile = config.auth.tokenFile;
    assert.ok(tokenFile);
    const tokenVolume = pod.volumes?.find((volume) => volume.name === 'credcache-token');
    assert.equal(tokenVolume?.emptyDir?.medium, 'Memory');
    const mount = (container: IContainer) =>
      container.volumeMounts?.find((m) => m.name === 'credcache-token');
    assert.equal(mount(sidecar)?.mountPath, dirname(tokenFile));
    assert.notEqual(mount(sidecar)?.readOnly, true);
    assert.equal(mount(app)?.mountPath, dirname(tokenFile));
    assert.equal(mount(app)?.readOnly, true);
    assert.equal(env(app, 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'), tokenFile);
    // The app's credentials URI is a configured target on the daemon's loopback listener.
    const uri = new URL(env(app, 'AWS_CONTAINER_CREDENTIALS_FULL_URI') ?? '');
    assert.equal(uri.hostname, '127.0.0.1');
    assert.equal(Number(uri.port), config.listen.port);
    assert.equal(config.listen.host, '127.0.0.1');
    const target = /^\/v1\/targets\/([a-z0-9-]+)$/.exec(uri.pathname)?.[1];
    assert.ok(config.targets.some((t) => t.name === target && t.source !== 'redshift_serverless'));
    // The config comes from the ConfigMap, mounted where the args say.
    const configVolume = pod.volumes?.find(
      (volume) => volume.configMap?.name === 'credcache-config',
    );
    assert.ok(configVolume);
    const configMount = sidecar.volumeMounts?.find((m) => m.name === configVolume.name);
    assert.equal(configMount?.mountPath, '/etc/credcache');
    // /tmp is the only other writable path.
    assert.ok(sidecar.volumeMounts?.some((m) => m.mountPath === '/tmp'));
  });

  it('give the app containers the token, the sinks and the Redshift proxy: 0640 files read through the fsGroup, by no one else', async () => {
    const { deployment, sidecar, reports, configText } = await rendered();
    const pod = deployment.spec?.template.spec;
    assert.ok(pod);
    const config = buildConfig(parse(configText), {
      env: containerEnv(sidecar, { 'status.podIP': POD_IP }),
    });
    const tokenFile = config.auth.tokenFile;
    assert.ok(tokenFile);
    const volume = dirname(tokenFile);
    // Who is who: a container's own user and group, else the pod's; every container is also in
    // the pod's fsGroup, which owns the emptyDir (setgid) and so every file credcache writes in it.
    const podContext = pod.securityContext;
    const fsGroup = podContext?.fsGroup;
    assert.equal(typeof fsGroup, 'number', 'an fsGroup');
    const identity = (container: IContainer): ProcessIdentity => {
      const uid = container.securityContext?.runAsUser ?? podContext?.runAsUser;
      const gid = container.securityContext?.runAsGroup ?? podContext?.runAsGroup;
      assert.ok(uid !== undefined && gid !== undefined, container.name);
      return { uid, gids: [gid, fsGroup ?? -1, ...(podContext?.supplementalGroups ?? [])] };
    };
    const daemon = identity(sidecar);
    const outsider: ProcessIdentity = { uid: 65534, gids: [65534] };
    const files = [
      { path: tokenFile, mode: config.auth.tokenFileMode },
      ...config.sinks.map((sink) => ({ path: sink.path, mode: sink.mode })),
    ];
    assert.ok(config.sinks.length > 0, 'a sink');
    assert.ok(config.sinks.some((sink) => sink.format === 'aws-credentials'));
    for (const { path, mode } of files) {
      assert.equal(dirname(path), volume, `${path} is in the shared volume`);
      const file = { mode, uid: daemon.uid, gid: fsGroup ?? -1 };
      assert.ok(mayRead(file, daemon), `credcache reads ${path}`);
      for (const container of pod.containers) {
        const reader = identity(container);
        assert.notEqual(reader.uid, daemon.uid, `${container.name} is not credcache's user`);
        assert.ok(
          mayRead(file, reader),
          `${container.name} reads ${path} (mode ${mode.toString(8)})`,
        );
        const mount = container.volumeMounts?.find((m) => m.name === 'credcache-token');
        assert.equal(mount?.mountPath, volume, container.name);
        assert.equal(mount?.readOnly, true, container.name);
      }
      assert.ok(!mayRead(file, outsider), `no one outside the group reads ${path}`);
      assert.equal(mode & 0o037, 0, `${path}: group reads only, others nothing`);
    }
    // libpq ignores a password file that group or others can read: a pgpass sink is 0600/0400
    // and read by credcache's own user.
    for (const sink of config.sinks.filter((s) => s.format === 'pgpass')) {
      assert.equal(sink.mode & 0o077, 0, sink.path);
    }

    // The proxy: loopback, where reports looks, TLS verified with the image's CA file.
    assert.equal(config.proxies.length, 1);
    const [proxy] = config.proxies;
    assert.ok(proxy);
    const target = config.targets.find((t) => t.name === proxy.target);
    assert.equal(target?.source, 'redshift_serverless');
    const listen = /^127\.0\.0\.1:(\d+)$/.exec(proxy.listen);
    assert.ok(listen, proxy.listen);
    assert.equal(env(reports, 'PGHOST'), '127.0.0.1');
    assert.equal(env(reports, 'PGPORT'), listen[1]);
    assert.equal(proxy.tls, 'verify-full');
    assert.equal(proxy.caFile, '/etc/ssl/certs/ca-certificates.crt');
    assert.equal(proxy.clientAuth, 'token');
    assert.match(
      proxy.upstream,
      /^[a-z0-9-]+\.\d{12}\.[a-z0-9-]+\.redshift-serverless\.amazonaws\.com:5439$/,
    );
    const proxyPort = sidecar.ports?.find((port) => port.name === 'redshift-proxy');
    assert.equal(proxyPort?.containerPort, Number(listen[1]));
    // reports takes the token as its password from the file credcache writes.
    assert.ok((reports.command ?? []).join(' ').includes(`PGPASSWORD="$(cat ${tokenFile})"`));
  });

  it('open no listener on a wildcard address (0.0.0.0, ::), in the file or in the pod', async () => {
    const { sidecar, configText } = await rendered();
    const document = parse(configText) as unknown;
    const configs = {
      file: buildConfig(document, { env: {} }),
      pod: buildConfig(document, { env: containerEnv(sidecar, { 'status.podIP': POD_IP }) }),
    };
    for (const [where, config] of Object.entries(configs)) {
      assert.ok(config.probeListen, `${where}: a probe listener`);
      for (const [field, address] of [
        ['listen', config.listen],
        ['probeListen', config.probeListen],
      ] as const) {
        assert.ok(!WILDCARDS.includes(address.host), `${where}: ${field} on ${address.host}`);
      }
      for (const proxy of config.proxies) {
        assert.match(proxy.listen, /^127\.0\.0\.1:\d+$/, `${where}: proxies[].listen`);
      }
      // The credential API stays on loopback; only the probe listener leaves it.
      assert.equal(config.listen.host, '127.0.0.1', where);
      assert.equal(config.allowNonLoopback, false, where);
    }
    assert.equal(configs.file.probeListen?.host, '127.0.0.1');
    assert.equal(configs.pod.probeListen?.host, POD_IP);
    // The sidecar sets nothing else that moves a listener.
    const moved = (sidecar.env ?? [])
      .map((variable) => variable.name)
      .filter((name) => /LISTEN|NON_LOOPBACK/.test(name));
    assert.deepEqual(moved, ['CREDCACHE_PROBE_LISTEN']);
  });

  it('give the daemon an identity (IRSA) the app does not get, and are scraped by a PodMonitor', async () => {
    const { deployment, serviceAccount, podMonitor, sidecar } = await rendered();
    const pod = deployment.spec?.template;
    assert.equal(pod?.spec?.serviceAccountName, serviceAccount.metadata?.name);
    assert.match(
      serviceAccount.metadata?.annotations?.['eks.amazonaws.com/role-arn'] ?? '',
      /^arn:aws:iam::\d{12}:role\/.+$/,
    );
    assert.deepEqual(pod?.metadata?.annotations?.['eks.amazonaws.com/skip-containers'], 'app');
    const selector = podMonitor.spec.selector.matchLabels ?? {};
    for (const [label, value] of Object.entries(selector)) {
      assert.equal(pod?.metadata?.labels?.[label], value);
    }
    const endpoint = podMonitor.spec.podMetricsEndpoints?.[0];
    assert.equal(endpoint?.path, '/metrics');
    assert.ok(sidecar.ports?.some((port) => port.name === endpoint?.port));
  });

  it('grant the daemon the same least-privilege policy as on ECS', async () => {
    const k8s = await readFile(new URL('iam-policy.json', DIR), 'utf8');
    const ecs = await readFile(new URL('../ecs/iam-policy.json', DIR), 'utf8');
    assert.deepEqual(
      JSON.parse(k8s),
      JSON.parse(ecs),
      'deploy/ecs/iam-policy.json is tested there',
    );
  });

  it('hold a config and environment the daemon starts with, answering where probes, app and reports look', async () => {
    const { sidecar, configText, app, reports } = await rendered();
    const dir = await mkdtemp(join(tmpdir(), 'credcache-k8s-'));
    // The same file, with only what a test machine needs changed: the shared volume's folder,
    // free ports in place of 9911/9912/5439 (which the assertions above tie to the probes, the
    // app and reports), and a closed loopback port in place of the Redshift endpoint.
    const document = parse(configText) as Record<string, unknown>;
    const original = buildConfig(document, { env: {} });
    const volume = dirname(original.auth.tokenFile ?? '');
    const local = (text: string) => text.replaceAll(volume, dir);
    const tokenFile = local(original.auth.tokenFile ?? '');
    const [proxy] = original.proxies;
    assert.ok(proxy);
    const proxyPort = await freePort();
    const closedPort = await freePort();
    const file = join(dir, 'credcache.yaml');
    await writeFile(
      file,
      local(configText)
        .replace(/^listen: 127\.0\.0\.1:\d+/m, 'listen: 127.0.0.1:0')
        .replace(/^probeListen: 127\.0\.0\.1:\d+/m, 'probeListen: 127.0.0.1:0')
        .replace(`listen: ${proxy.listen}`, `listen: 127.0.0.1:${proxyPort}`)
        .replace(`upstream: ${proxy.upstream}`, `upstream: 127.0.0.1:${closedPort}`),
    );
    // The pod's IP is this machine's loopback here, with a free port in place of 9912.
    const sidecarEnv = containerEnv(sidecar, { 'status.podIP': '127.0.0.1' });
    assert.equal(sidecarEnv.CREDCACHE_PROBE_LISTEN, '127.0.0.1:9912');
    sidecarEnv.CREDCACHE_PROBE_LISTEN = '127.0.0.1:0';
    const child = spawn(
      process.execPath,
      [BIN, ...(sidecar.args ?? []).slice(0, 1), '--config', file, '--emulator'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...sidecarEnv,
        },
      },
    );
    try {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      let started: { listen: string; probeListen: string; level: string } | undefined;
      for await (const line of lines) {
        const parsed = JSON.parse(line) as {
          msg: string;
          listen: string;
          probeListen: string;
          level: string;
        };
        if (parsed.msg === 'credcache listening') {
          started = parsed;
          break;
        }
      }
      assert.ok(started, 'the daemon started');
      const ready = await fetch(
        `${started.probeListen}${sidecar.readinessProbe?.httpGet?.path ?? ''}`,
      );
      assert.equal(ready.status, 200);
      const live = await fetch(
        `${started.probeListen}${sidecar.livenessProbe?.httpGet?.path ?? ''}`,
      );
      assert.equal(live.status, 200);
      const uri = new URL(env(app, 'AWS_CONTAINER_CREDENTIALS_FULL_URI') ?? '');
      const token = await readFile(tokenFile, 'utf8');
      const credentials = await fetch(`${started.listen}${uri.pathname}`, {
        headers: { authorization: token },
      });
      assert.equal(credentials.status, 200);
      const served = (await credentials.json()) as { Token?: string; AccessKeyId?: string };
      assert.ok(served.Token);

      // The token and the sinks in the shared volume, with the modes the pod's users rely on.
      assert.equal((await stat(tokenFile)).mode & 0o777, 0o640);
      for (const sink of original.sinks) {
        const path = local(sink.path);
        assert.equal((await stat(path)).mode & 0o777, sink.mode, path);
        if (sink.format === 'aws-credentials') {
          assert.match(await readFile(path, 'utf8'), new RegExp(`^\\[${sink.target}\\]$`, 'm'));
        }
      }
      // reports' own command: the token file into PGPASSWORD, psql to localhost:5439 (here a free
      // port), through the proxy, which accepts the token and then finds the Redshift endpoint
      // unreachable (08006: a closed port here); a wrong token would be 28P01.
      const reportsEnv = containerEnv(reports, {});
      const ran = await runReportsCommand((reports.command ?? []).map(local), {
        ...reportsEnv,
        PGPORT: String(proxyPort),
      });
      assert.equal(ran.env.PGPASSWORD, token, ran.stderr);
      assert.equal(ran.env.PGHOST, '127.0.0.1');
      assert.equal(ran.outcome, '08006', ran.stderr);
      const wrong = await runReportsCommand(
        ['sh', '-c', 'set -eu; while true; do psql; sleep 1; done'],
        { ...reportsEnv, PGPORT: String(proxyPort), PGPASSWORD: 'not-the-token-0123456789' },
      );
      assert.equal(wrong.outcome, '28P01');
    } finally {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
    }
  });
});
