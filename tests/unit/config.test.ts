import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, defaultWorkers, describeSettings, isDefaultDataDir, isDefaultWorkers, loadConfig, settings } from '../../src/config';

/** Variables the service has always had (more may be added; none of these may silently go). */
const ESSENTIAL = [
  'HOST', 'PORT', 'WORKERS', 'DATABASE_URL', 'DATA_DIR', 'EMBEDDED_PG_PORT', 'BOOKING_TZ', 'MAX_BODY_BYTES',
  'DB_POOL_SIZE', 'BATCH_MAX_SIZE', 'BATCH_MAX_IN_FLIGHT', 'LISTENER_CHECK_MS', 'SHUTDOWN_TIMEOUT_MS',
  'LOG_LEVEL', 'ADMIN_TOKEN',
];

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  test('an empty environment gives the documented defaults', () => {
    const config = loadConfig({});
    expect(Object.keys(config).sort()).toEqual(Object.keys(settings).sort());
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      workers: defaultWorkers(os.availableParallelism()),
      databaseUrl: '',
      dataDir: path.resolve('.data'),
      embeddedPort: 0,
      embeddedMaxConnections: 0,
      bookingTimeZone: 'UTC',
      maxBodyBytes: 16384,
      poolSize: 2,
      batchMaxSize: 512,
      batchMaxInFlight: 1,
      listenerCheckMs: 5000,
      shutdownTimeoutMs: 8000,
      logLevel: 'info',
      adminToken: '',
    });
  });

  test('values given are trimmed and typed', () => {
    const config = loadConfig({
      HOST: ' localhost ', PORT: ' 8080 ', WORKERS: '3', DATABASE_URL: ' postgresql://u@db:5432/rb ',
      DATA_DIR: 'var/pg', BOOKING_TZ: 'europe/berlin', LISTENER_CHECK_MS: '300', LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({
      host: 'localhost', port: 8080, workers: 3, databaseUrl: 'postgresql://u@db:5432/rb',
      dataDir: path.resolve('var/pg'), bookingTimeZone: 'Europe/Berlin', listenerCheckMs: 300, logLevel: 'warn',
    });
  });

  test('the limits of each range are accepted', () => {
    expect(loadConfig({ PORT: '0', WORKERS: '1' })).toMatchObject({ port: 0, workers: 1 });
    expect(loadConfig({ PORT: '65535', WORKERS: '256' })).toMatchObject({ port: 65535, workers: 256 });
    expect(loadConfig({ EMBEDDED_PG_MAX_CONNECTIONS: '100000' })).toMatchObject({ embeddedMaxConnections: 100000 });
  });

  test.each([
    ['HOST', '999.1.1.1'], // dotted numbers that are no IPv4 address: not a host name either (RFC 1123 2.1)
    ['HOST', '10.0.0'],
    ['HOST', '[::1]'], // a URL's brackets: listen takes the bare address
    ['HOST', 'under_score.example'],
    ['HOST', '-dash.example'],
    ['HOST', 'two..dots'],
    ['HOST', `${'a'.repeat(64)}.example`],
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['WORKERS', '0'],
    ['WORKERS', '257'],
    ['EMBEDDED_PG_PORT', '70000'],
    ['EMBEDDED_PG_MAX_CONNECTIONS', '100001'],
    ['BOOKING_TZ', 'Mars/Olympus'],
    ['MAX_BODY_BYTES', '63'],
    ['DB_POOL_SIZE', '0'],
    ['BATCH_MAX_SIZE', '10001'],
    ['BATCH_MAX_IN_FLIGHT', 'many'],
    ['BATCH_GATHER_MS', '1001'],
    ['LISTENER_CHECK_MS', '99'],
    ['SHUTDOWN_TIMEOUT_MS', '1e4'],
    ['LOG_LEVEL', 'loud'],
  ])('%s=%j is refused with a message naming the variable', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toBe(`${name}=${JSON.stringify(value)} is not valid: expected ${Object.values(settings).find((s) => s.env === name)!.accepts}`);
  });

  test.each([
    ['ADMIN_TOKEN', 'admin-secret-long-enough-\u00e9'], // uWS drops a header value's trailing bytes above 0x7f: it could never match
    ['ADMIN_TOKEN', 'admin\u0001secret-long-enough'], // a request carrying it would never be answered
    ['ADMIN_TOKEN', 'fifteen-chars-x'], // too short: nothing limits how fast a client may guess
    ['CANCEL_TOKEN_SECRET', 'too-short-secret'.slice(0, 15)],
    ['DATABASE_URL', 'mysql://root@localhost/rb'],
    ['DATABASE_URL', 'postgresql//u:s3cretpw@db/rb'], // a URL that does not parse may still hold a password
  ])('%s refused for its value is named without the value, which is a secret', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toBe(`${name} is not valid: expected ${Object.values(settings).find((s) => s.env === name)!.accepts}`);
  });

  test.each(['0.0.0.0', '::', '::1', '192.0.2.1', '2001:db8::1', 'localhost', 'api-1.internal', 'Room-Book.example.COM', '1host.example'])(
    'HOST=%j is accepted', (host) => {
      expect(loadConfig({ HOST: host, ADMIN_TOKEN: 'a-token-of-16-chars' }).host).toBe(host);
    });

  test('an empty or blank value means the default, for every setting (an env file entry left blank)', () => {
    const blank = (value: string) => Object.fromEntries(Object.values(settings).map((s) => [s.env, value]));
    expect(loadConfig(blank(''))).toEqual(loadConfig({}));
    expect(loadConfig(blank('  '))).toEqual(loadConfig({}));
    expect(isDefaultDataDir({ DATA_DIR: ' ' })).toBe(true);
    expect(isDefaultWorkers({ WORKERS: '' })).toBe(true);
  });

  test('an ADMIN_TOKEN of 16+ characters of printable ASCII, spaces inside included, is taken trimmed', () => {
    expect(loadConfig({ ADMIN_TOKEN: ' s3cr3t token~!{} ' }).adminToken).toBe('s3cr3t token~!{}');
    expect(loadConfig({ ADMIN_TOKEN: 'sixteen-chars-xx' }).adminToken).toBe('sixteen-chars-xx');
  });

  test('every invalid variable is reported at once, one line each', () => {
    const lines = configError({ PORT: 'abc', WORKERS: '0', BOOKING_TZ: 'Mars/Olympus' }).message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^PORT="abc"/);
    expect(lines[1]).toMatch(/^WORKERS="0"/);
    expect(lines[2]).toMatch(/^BOOKING_TZ="Mars\/Olympus"/);
  });

  test('the default WORKERS is one per core, at most the largest WORKERS accepted: a 384-thread machine still starts', () => {
    expect(defaultWorkers(2)).toBe(2);
    expect(defaultWorkers(384)).toBe(256);
    expect(loadConfig({ WORKERS: String(defaultWorkers(384)) }).workers).toBe(256);
  });

  test('the result is frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(config.port).toBe(3000);
  });

  test('reads process.env when given nothing', () => {
    const saved = process.env.PORT;
    process.env.PORT = '4321';
    try {
      expect(loadConfig().port).toBe(4321);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });
});

describe('isDefaultDataDir', () => {
  test('unset or blank DATA_DIR is the default; anything else is chosen', () => {
    expect(isDefaultDataDir({})).toBe(true);
    expect(isDefaultDataDir({ DATA_DIR: ' ' })).toBe(true);
    expect(isDefaultDataDir({ DATA_DIR: '.data' })).toBe(false);
  });
});

describe('describeSettings (--help)', () => {
  const help = describeSettings();

  test('declares every essential variable, each once', () => {
    const names = Object.values(settings).map((setting) => setting.env);
    expect(names).toEqual(expect.arrayContaining(ESSENTIAL));
    expect(new Set(names).size).toBe(names.length);
  });

  test.each(Object.values(settings).map((setting) => [setting.env, setting] as const))(
    'lists %s with its meaning, default and accepted values', (name, setting) => {
      const at = help.indexOf(`  ${name} `);
      expect(at).toBeGreaterThan(-1);
      const entry = help.slice(at, help.indexOf('\n', help.indexOf('\n', at) + 1));
      expect(entry).toContain(setting.meaning);
      expect(entry).toContain(`default: ${setting.fallback === '' ? '(empty)' : setting.fallback}`);
      expect(entry).toContain(`accepts ${setting.accepts}`);
    });

  test('every meaning starts in the same column, the longest name\'s included', () => {
    const columns = help.split('\n').filter((line) => /^  [A-Z]/.test(line)).map((line) => / \S/.exec(line.slice(2))!.index);
    expect(new Set(columns).size).toBe(1);
  });

  test('src/ reads no environment variable that is not declared', () => {
    const declared = new Set(Object.values(settings).map((setting) => setting.env));
    const internal = new Set(['ROOMBOOK_WORKER_DATABASE_URL']); // primary -> worker, not for users
    const read = new Set<string>();
    const srcDir = path.resolve(__dirname, '../../src');
    for (const file of fs.readdirSync(srcDir, { recursive: true }) as string[]) {
      if (!file.endsWith('.ts')) continue;
      const source = fs.readFileSync(path.join(srcDir, file), 'utf8');
      for (const match of source.matchAll(/process\.env(?:\.([A-Z_][A-Z0-9_]*)|\[\s*['"]([A-Z_][A-Z0-9_]*)['"]\s*\])/g)) {
        read.add(match[1] ?? match[2]);
      }
    }
    expect([...read].filter((name) => !declared.has(name) && !internal.has(name))).toEqual([]);
  });
});
