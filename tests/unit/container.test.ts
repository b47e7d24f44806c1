import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, settings } from '../../src/config';

/**
 * No Docker engine runs here, so the Dockerfile and compose.yaml are checked against the
 * project instead: every file, script, port, path and variable they name must exist.
 */
const root = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const packageJson = JSON.parse(read('package.json'));
const tsconfig = JSON.parse(read('tsconfig.json'));
// js-yaml comes with jest (through babel-plugin-istanbul); no YAML parser is a dependency of ours.
const yaml = require('js-yaml') as { load(text: string): any };
const declared = new Set(Object.values(settings).map((setting) => setting.env));
const NOT_OURS = new Set(['NODE_ENV']); // read by Node.js and npm, not by roombook

interface Instruction { keyword: string; args: string; stage: number }

/** Instructions with their continuation lines joined; `stage` counts FROM lines. */
function parseDockerfile(text: string): Instruction[] {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  let stage = -1;
  return logical.map((line) => {
    const [, keyword, args] = /^(\w+)\s+(.*)$/.exec(line)!;
    if (keyword.toUpperCase() === 'FROM') stage++;
    return { keyword: keyword.toUpperCase(), args, stage };
  });
}

const dockerfile = parseDockerfile(read('Dockerfile'));
const all = (keyword: string) => dockerfile.filter((instruction) => instruction.keyword === keyword);
const lastStage = Math.max(...dockerfile.map((instruction) => instruction.stage));
const envOf = (instruction: Instruction) =>
  Object.fromEntries([...instruction.args.matchAll(/(\w+)=(\S+)/g)].map(([, name, value]) => [name, value]));
const runtimeEnv: Record<string, string> = Object.assign({}, ...all('ENV').filter((env) => env.stage === lastStage).map(envOf));

/** The path tsc writes for a source file, from tsconfig's rootDir and outDir. */
const compiledPath = (source: string) =>
  path.join(tsconfig.compilerOptions.outDir, path.relative(tsconfig.compilerOptions.rootDir, source)).replace(/\.ts$/, '.js');

describe('Dockerfile', () => {
  test('every COPY from the build context names a file or folder of the project', () => {
    const sources = all('COPY').filter((copy) => !copy.args.startsWith('--from'))
      .flatMap((copy) => copy.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect({ source, exists: fs.existsSync(path.join(root, source)) }).toEqual({ source, exists: true });
  });

  test('every npm run names a script of package.json, and the build is tsc with tsconfig.json', () => {
    const runs = all('RUN').flatMap((run) => [...run.args.matchAll(/npm run (\S+)/g)].map((match) => match[1]));
    expect(runs).toContain('build');
    for (const script of runs) expect(Object.keys(packageJson.scripts)).toContain(script);
    expect(packageJson.scripts.build).toBe('tsc -p tsconfig.json');
  });

  test('CMD runs what the build makes of src/main.ts, copied from the build stage', () => {
    const cmd = JSON.parse(all('CMD').at(-1)!.args) as string[];
    expect(cmd[0]).toBe('node');
    expect(cmd[1]).toBe(compiledPath('src/main.ts'));
    expect(fs.existsSync(path.join(root, 'src/main.ts'))).toBe(true);
    expect(packageJson.main).toBe(cmd[1]);
    const copied = all('COPY').filter((copy) => copy.stage === lastStage && copy.args.startsWith('--from'));
    expect(copied.some((copy) => copy.args.endsWith(` ./${tsconfig.compilerOptions.outDir}`))).toBe(true);
  });

  test('the image finds its migrations: package.json marks the root and sql/ is beside it', () => {
    const workdir = all('WORKDIR').filter((instruction) => instruction.stage === lastStage).at(-1)!.args;
    const finalCopies = all('COPY').filter((copy) => copy.stage === lastStage).map((copy) => copy.args);
    expect(finalCopies.some((args) => /package\.json \.\/$/.test(args))).toBe(true); // src/paths.ts looks for package.json
    expect(finalCopies).toContain('sql ./sql');
    expect(workdir).toBe('/app');
    expect(read('src/paths.ts')).toContain("path.join(projectRoot, 'sql')");
  });

  test('EXPOSE and ENV agree with the ports roombook listens on', () => {
    const exposed = all('EXPOSE').flatMap((expose) => expose.args.split(/\s+/));
    expect(runtimeEnv.PORT).toBe(settings.port.fallback);
    expect(runtimeEnv.METRICS_PORT).toBe(settings.metricsPort.fallback);
    expect(exposed.sort()).toEqual([runtimeEnv.PORT, runtimeEnv.METRICS_PORT].sort());
  });

  test('every ENV variable is one roombook declares (or Node\'s own)', () => {
    for (const name of Object.keys(runtimeEnv)) expect(declared.has(name) || NOT_OURS.has(name)).toBe(true);
  });

  test('the health check asks GET /health of the route table, on PORT', () => {
    const check = all('HEALTHCHECK')[0].args;
    expect(check).toContain("process.env.PORT || 3000");
    expect(check).toContain("'/health'");
    expect(read('src/worker.ts')).toMatch(/\['get', '\/health'/);
  });

  test('every package src/ imports is a runtime dependency (the image drops devDependencies)', () => {
    const runtime = new Set([...Object.keys(packageJson.dependencies), ...Object.keys(packageJson.optionalDependencies ?? {})]);
    const srcDir = path.join(root, 'src');
    for (const file of fs.readdirSync(srcDir, { recursive: true }) as string[]) {
      if (!file.endsWith('.ts')) continue;
      const source = fs.readFileSync(path.join(srcDir, file), 'utf8');
      const imports = [...source.matchAll(/^(?:import|export)\s[^;]*?\bfrom\s+'([^']+)'/gm), ...source.matchAll(/\brequire\('([^']+)'\)/g)];
      for (const [, specifier] of imports) {
        if (specifier.startsWith('node:') || specifier.startsWith('.')) continue;
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
        expect({ file, name, runtime: runtime.has(name) }).toEqual({ file, name, runtime: true });
      }
    }
  });
});

describe('compose.yaml', () => {
  const compose = yaml.load(read('compose.yaml'));
  const { postgres, roombook } = compose.services;
  const environment: Record<string, string> = roombook.environment;

  test('PostgreSQL 16 with a pg_isready health check on its own user and database', () => {
    expect(postgres.image).toBe('postgres:16');
    expect(postgres.healthcheck.test).toEqual(['CMD', 'pg_isready', '-U', postgres.environment.POSTGRES_USER,
      '-d', postgres.environment.POSTGRES_DB]);
  });

  test('the service is built from this Dockerfile and starts once PostgreSQL is healthy', () => {
    expect(fs.existsSync(path.join(root, roombook.build, 'Dockerfile'))).toBe(true);
    expect(roombook.depends_on.postgres.condition).toBe('service_healthy');
  });

  test('DATABASE_URL names the postgres service with its user, password and database', () => {
    const url = new URL(environment.DATABASE_URL);
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(url.username).toBe(postgres.environment.POSTGRES_USER);
    expect(url.password).toBe(postgres.environment.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${postgres.environment.POSTGRES_DB}`);
  });

  test('every variable is declared in src/config.ts and the whole set is a valid configuration', () => {
    for (const name of Object.keys(environment)) expect({ name, declared: declared.has(name) }).toEqual({ name, declared: true });
    expect(environment.ADMIN_TOKEN).toMatch(/^\$\{ADMIN_TOKEN:\?.+\}$/); // required from the caller: HOST=0.0.0.0 needs it
    const resolved = { ...environment, ADMIN_TOKEN: 'a-token-from-the-environment' };
    expect(() => loadConfig(resolved)).not.toThrow();
    expect(loadConfig(resolved)).toMatchObject({ host: '0.0.0.0' });
  });

  test('the published ports are the API and metrics ports the service listens on', () => {
    const containerPorts = (roombook.ports as string[]).map((mapping) => mapping.split(':').at(-1));
    expect(containerPorts.sort()).toEqual([environment.PORT, environment.METRICS_PORT].sort());
    const metrics = (roombook.ports as string[]).find((mapping) => mapping.endsWith(`:${environment.METRICS_PORT}`))!;
    expect(metrics.startsWith('127.0.0.1:')).toBe(true); // metrics are for the host's scraper, not the world
  });

  test('the health check is the Dockerfile\'s, and shutdown gets the time the primary may take', () => {
    const [kind, ...command] = roombook.healthcheck.test as string[];
    expect(kind).toBe('CMD');
    expect(command).toEqual(JSON.parse(all('HEALTHCHECK')[0].args.replace(/^.*?CMD\s+/, '')));
    const grace = Number(/^(\d+)s$/.exec(roombook.stop_grace_period)![1]);
    expect(grace * 1000).toBeGreaterThan(Number(settings.shutdownTimeoutMs.fallback) + 1500); // see src/primary.ts shutdown
  });
});
