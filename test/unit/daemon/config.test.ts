// berthd's flags and daemon.json (src/daemon/config.ts), without a daemon: defaults, each
// flag form, the file's keys, how the two merge, and the errors dockerd gives for a
// directive set both ways, unknown keys and invalid values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, loadDaemonConfig, parseAddressPool, parseDaemonJson, parseFlags, parseUlimit } from '../../../src/daemon/config.js';
import { isBerthError } from '../../../src/errors.js';

const FILE = '/etc/berth/daemon.json';

function load(argv: string[], file?: string): ReturnType<typeof loadDaemonConfig>['config'] {
  return loadDaemonConfig(argv, (p) => (p === FILE || argv.includes(p) ? file : undefined)).config;
}

function fails(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isBerthError(e) && e.kind === 'InvalidParameter', String(e));
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('defaults without flags or file', () => {
  const c = load([]);
  assert.equal(c.dataRoot, DEFAULTS.dataRoot);
  assert.equal(c.execRoot, DEFAULTS.execRoot);
  assert.deepEqual(c.hosts, [DEFAULTS.host]);
  assert.equal(c.pidfile, DEFAULTS.pidfile);
  assert.equal(c.configFile, undefined);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.logDriver, 'json-file');
  assert.deepEqual(c.logOpts, {});
  assert.equal(c.defaultUlimits, undefined);
  assert.equal(c.liveRestore, true);
  assert.equal(c.ipForward, true);
  assert.equal(c.iptables, true);
  assert.equal(c.execRetentionMs, undefined, "the engine's default");
  assert.deepEqual([c.registryMirrors, c.insecureRegistries], [[], []]);
});

test('flags: long and short forms, inline values, repeatable lists, booleans', () => {
  const { values, help, version } = parseFlags([
    '--data-root', '/d', '--exec-root=/e', '-H', 'unix:///a.sock', '--host=unix:///b.sock', '-p', '/pid', '-l', 'warn',
    '--registry-mirror', 'https://m1', '--registry-mirror=https://m2', '--insecure-registry', 'r:5000',
    '--log-opt', 'max-size=10m', '--log-opt=max-file=3', '--default-ulimit', 'nofile=1024:2048', '--default-ulimit', 'nproc=64',
    '--iptables=false', '--ip-forward=0', '--live-restore', '-G', 'docker', '-b', 'br9', '--bip', '10.9.0.1/16',
    '--default-address-pool', 'base=10.10.0.0/16,size=24', '--exec-retention', '1m30s', '-D', '-h', '-v',
  ]);
  assert.deepEqual([help, version], [true, true]);
  assert.equal(values.dataRoot, '/d');
  assert.equal(values.execRoot, '/e');
  assert.deepEqual(values.hosts, ['unix:///a.sock', 'unix:///b.sock']);
  assert.equal(values.pidfile, '/pid');
  assert.equal(values.logLevel, 'warn');
  assert.deepEqual(values.registryMirrors, ['https://m1', 'https://m2']);
  assert.deepEqual(values.insecureRegistries, ['r:5000']);
  assert.deepEqual(values.logOpts, { 'max-size': '10m', 'max-file': '3' });
  assert.deepEqual(values.defaultUlimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'nproc', Soft: 64, Hard: 64 }]);
  assert.deepEqual([values.iptables, values.ipForward, values.liveRestore], [false, false, true]);
  assert.deepEqual([values.group, values.bridge, values.bip], ['docker', 'br9', '10.9.0.1/16']);
  assert.deepEqual(values.defaultAddressPools, [{ base: '10.10.0.0/16', size: 24 }]);
  assert.equal(values.execRetentionMs, 90_000);
  assert.equal(values.debug, true);
});

test('flag errors: unknown, missing argument, bad boolean, ulimit, pool, log-opt', () => {
  fails(() => parseFlags(['--nope']), /^unknown flag: --nope/);
  fails(() => parseFlags(['--data-root']), 'flag needs an argument: --data-root');
  fails(() => parseFlags(['--iptables=maybe']), 'invalid argument "maybe" for "--iptables" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  fails(() => parseFlags(['--log-opt', 'max-size']), 'invalid --log-opt: max-size: expected key=value');
  fails(() => parseUlimit('nofile'), 'invalid ulimit argument: nofile');
  fails(() => parseUlimit('nofile=10:5'), 'ulimit soft limit must be less than or equal to hard limit: 10 > 5');
  fails(() => parseAddressPool('base=10.0.0.0/8'), /^invalid default address pool: base=10.0.0.0\/8/);
  fails(() => parseAddressPool('base=10.0.0.0/8,size=40'), /^invalid default address pool/);
  fails(() => parseFlags(['--exec-retention', '10']), 'invalid argument for "--exec-retention" flag: expected a duration of at least 1s such as 5m or 90s, got "10"');
  fails(() => parseFlags(['--exec-retention=500ms']), /at least 1s/);
});

test('daemon.json: every key read', () => {
  const c = load([], JSON.stringify({
    'data-root': '/srv/berth', 'exec-root': '/run/b', hosts: ['unix:///x.sock'], 'registry-mirrors': ['https://m'], 'insecure-registries': ['r:1'],
    'log-level': 'error', 'log-driver': 'local', 'log-opts': { 'max-size': '1m' }, 'default-ulimits': { nofile: { Name: 'nofile', Soft: 10, Hard: 20 } },
    'live-restore': true, 'cgroup-parent': '/x', group: 'g', bridge: 'br', bip: '10.1.0.1/16', 'ip-forward': false, iptables: false, 'nft-table': 't',
    'default-address-pools': [{ base: '10.20.0.0/16', size: 26 }], 'exec-retention': '2h',
  }));
  assert.equal(c.dataRoot, '/srv/berth');
  assert.equal(c.execRoot, '/run/b');
  assert.equal(c.pidfile, '/run/b/berthd.pid', 'the pid file follows the exec root');
  assert.deepEqual(c.hosts, ['unix:///x.sock']);
  assert.equal(c.configFile, FILE);
  assert.equal(c.logLevel, 'error');
  assert.equal(c.logDriver, 'local');
  assert.deepEqual(c.defaultUlimits, [{ Name: 'nofile', Soft: 10, Hard: 20 }]);
  assert.deepEqual([c.cgroupParent, c.group, c.bridge, c.bip, c.ipForward, c.iptables, c.nftTable], ['/x', 'g', 'br', '10.1.0.1/16', false, false, 't']);
  assert.deepEqual(c.defaultAddressPools, [{ base: '10.20.0.0/16', size: 26 }]);
  assert.equal(c.execRetentionMs, 2 * 3600_000);
  assert.equal(load([], '{"debug": true, "log-level": "warn"}').logLevel, 'debug', 'debug wins over log-level, as in dockerd');
});

test('flags and file merge: flags for other keys, lists joined', () => {
  const c = load(['--data-root', '/flag', '--registry-mirror', 'https://flag', '--insecure-registry', 'f:1'], '{"exec-root": "/file", "registry-mirrors": ["https://file"], "insecure-registries": ["i:1"]}');
  assert.equal(c.dataRoot, '/flag');
  assert.equal(c.execRoot, '/file');
  assert.deepEqual(c.registryMirrors, ['https://file', 'https://flag']);
  assert.deepEqual(c.insecureRegistries, ['i:1', 'f:1']);
  const explicit = loadDaemonConfig(['--config-file', '/tmp/other.json', '-l', 'debug'], (p) => (p === '/tmp/other.json' ? '{"data-root": "/o"}' : undefined)).config;
  assert.deepEqual([explicit.dataRoot, explicit.configFile, explicit.logLevel], ['/o', '/tmp/other.json', 'debug']);
});

test('a directive both as a flag and in the file: dockerd\'s error with both values', () => {
  fails(
    () => load(['--data-root', '/a', '-H', 'unix:///f.sock', '--iptables=false'], '{"data-root": "/b", "hosts": ["unix:///g.sock"], "iptables": true}'),
    `unable to configure the daemon with file ${FILE}: the following directives are specified both as a flag and in the configuration file: data-root: (from flag: /a, from file: /b), hosts: (from flag: [unix:///f.sock], from file: [unix:///g.sock]), iptables: (from flag: false, from file: true)`,
  );
  fails(() => load(['-l', 'warn'], '{"log-level": "info"}'), /log-level: \(from flag: warn, from file: info\)$/);
  fails(() => load(['--log-opt', 'max-size=1m'], '{"log-opts": {"max-size": "2m"}}'), /log-opts: \(from flag: map\[max-size:1m\], from file: map\[max-size:2m\]\)$/);
  fails(() => load(['-D'], '{"debug": false}'), /debug: \(from flag: true, from file: false\)$/);
  // -l and "debug" are separate directives: no conflict
  assert.equal(load(['-l', 'warn'], '{"debug": true}').logLevel, 'debug');
});

test('file errors: unknown keys (all named), bad JSON, wrong types, missing explicit file', () => {
  fails(() => load([], '{"foo": 1, "bar": 2, "data-root": "/x"}'), `unable to configure the daemon with file ${FILE}: the following directives don't match any configuration option: bar, foo`);
  fails(() => load([], '{"data-root": '), /^unable to configure the daemon with file \/etc\/berth\/daemon.json: invalid JSON: /);
  fails(() => load([], '[1]'), /: expected a JSON object$/);
  fails(() => load([], '{"hosts": "unix:///x"}'), /: hosts: expected a list of strings$/);
  fails(() => load([], '{"iptables": "yes"}'), /: iptables: expected true or false$/);
  fails(() => load([], '{"log-opts": {"max-file": 3}}'), /: log-opts: expected an object of strings$/);
  fails(() => load([], '{"default-ulimits": {"nofile": {"Soft": 10}}}'), /default-ulimits.nofile: expected/);
  fails(() => load([], '{"default-ulimits": {"nofile": {"Soft": 30, "Hard": 20}}}'), /soft limit must be less than or equal to hard limit: 30 > 20$/);
  fails(() => load([], '{"default-address-pools": [{"base": "10.0.0.0/8"}]}'), /default-address-pools: expected/);
  fails(() => load([], '{"exec-retention": 300}'), /: exec-retention: expected a string$/);
  fails(() => load([], '{"exec-retention": "soon"}'), /: exec-retention: expected a duration of at least 1s such as 5m or 90s, got "soon"$/);
  fails(() => loadDaemonConfig(['--config-file', '/nonexistent.json'], () => undefined), 'unable to configure the daemon with file /nonexistent.json: no such file');
  assert.throws(() => parseDaemonJson('{"x": 1}', '/p'), /unable to configure the daemon with file \/p: the following directives don't match any configuration option: x/);
});

test('invalid values after the merge: log level, log driver, hosts', () => {
  fails(() => load(['-l', 'loud']), 'unable to parse logging level: loud');
  fails(() => load([], '{"log-driver": "syslog"}'), /logging driver "syslog" is not supported/);
  fails(() => load(['-H', 'tcp://0.0.0.0:2375']), /^refusing to listen on tcp:\/\/0.0.0.0:2375 without TLS/);
  fails(() => load(['-H', 'ssh://x']), 'invalid host ssh://x: expected unix:///path or tcp://host:port');
  const tls = load(['-H', 'tcp://127.0.0.1:2376', '--tlsverify', '--tlscacert', 'ca', '--tlscert', 'c', '--tlskey', 'k']);
  assert.deepEqual([tls.tlsVerify, tls.tlsCaCert, tls.tlsCert, tls.tlsKey], [true, 'ca', 'c', 'k']);
});
