import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  boolValue,
  boolValueOrDefault,
  checkJsonContentType,
  encodeFilters,
  filterBool,
  intValue,
  parseFilters,
  parseJsonBody,
  readAll,
  uint32Value,
  validateFilters,
} from '../../../src/api/body.js';
import { findJsonSyntaxError } from '../../../src/api/json-syntax.js';
import { isBerthError } from '../../../src/errors.js';

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isBerthError(e, 'InvalidParameter'), String(e));
    assert.match((e as Error).message, pattern);
    return true;
  });
}

test('booleans as dockerd reads them', () => {
  const q = new URLSearchParams('a=1&b=true&c=True&d=yes&e=0&f=false&g=no&h=none&i=&j=FALSE&k=%20true%20');
  for (const k of ['a', 'b', 'c', 'd', 'k']) assert.equal(boolValue(q, k), true, k);
  for (const k of ['e', 'f', 'g', 'h', 'i', 'j', 'absent']) assert.equal(boolValue(q, k), false, k);
  assert.equal(boolValueOrDefault(q, 'absent', true), true);
  assert.equal(boolValueOrDefault(q, 'e', true), false);
  assert.equal(boolValueOrDefault(new URLSearchParams('stream='), 'stream', true), false);
});

test('integers name the parameter when they are not integers', () => {
  const q = new URLSearchParams('t=10&neg=-1&bad=ten&empty=&h=24&w=-3&big=99999999999');
  assert.equal(intValue(q, 't'), 10);
  assert.equal(intValue(q, 'neg'), -1);
  assert.equal(intValue(q, 'absent'), undefined);
  assert.equal(intValue(q, 'empty', 5), 5);
  invalid(() => intValue(q, 'bad'), /^invalid value for "bad": "ten" is not an integer$/);
  assert.equal(uint32Value(q, 'h', 'resize height'), 24);
  invalid(() => uint32Value(q, 'w', 'resize width'), /invalid resize width "-3": value out of range/);
  invalid(() => uint32Value(q, 'big', 'resize width'), /out of range/);
  invalid(() => uint32Value(q, 'absent', 'resize height'), /invalid resize height "": invalid syntax/);
});

test('filters: the map form and the legacy list form decode to the same thing', () => {
  const modern = parseFilters('{"status":{"running":true,"paused":true},"label":{"a=b":true}}');
  const legacy = parseFilters('{"status":["running","paused"],"label":["a=b"]}');
  assert.deepEqual({ ...modern }, { status: ['paused', 'running'], label: ['a=b'] });
  assert.deepEqual({ ...legacy }, { ...modern });
  assert.deepEqual({ ...parseFilters('') }, {});
  assert.deepEqual({ ...parseFilters(null) }, {});
  assert.deepEqual({ ...parseFilters('null') }, {});
  assert.deepEqual({ ...parseFilters('{"dangling":{"true":false}}') }, { dangling: ['true'] });
  assert.deepEqual({ ...parseFilters(encodeFilters({ name: ['web'] })) }, { name: ['web'] });
});

test('malformed filters are a 400 "invalid filter"', () => {
  invalid(() => parseFilters('{not json'), /^invalid filter$/);
  invalid(() => parseFilters('["a"]'), /^invalid filter$/);
  invalid(() => parseFilters('{"status":"running"}'), /^invalid filter$/);
  invalid(() => parseFilters('{"status":{"running":"yes"}}'), /^invalid filter$/);
  invalid(() => parseFilters('{"a":["x"],"b":{"y":true}}'), /^invalid filter$/);
  invalid(() => validateFilters(parseFilters('{"foo":["1"]}'), ['status']), /^invalid filter 'foo'$/);
  validateFilters(parseFilters('{"status":["running"]}'), ['status']);
});

test('boolean filters', () => {
  assert.equal(filterBool(parseFilters('{"dangling":["true"]}'), 'dangling', false), true);
  assert.equal(filterBool(parseFilters('{"dangling":["0"]}'), 'dangling', true), false);
  assert.equal(filterBool(parseFilters('{}'), 'dangling', true), true);
  invalid(() => filterBool(parseFilters('{"dangling":["true","false"]}'), 'dangling', false), /invalid filter 'dangling=\[false true\]'/);
  invalid(() => filterBool(parseFilters('{"dangling":["maybe"]}'), 'dangling', false), /invalid filter 'dangling=\[maybe\]'/);
});

test('JSON bodies: empty is nothing, malformed says what and where', () => {
  assert.equal(parseJsonBody(Buffer.alloc(0)), undefined);
  assert.deepEqual(parseJsonBody(Buffer.from('{"Image":"busybox"}')), { Image: 'busybox' });
  invalid(() => parseJsonBody(Buffer.from('  \n')), /^invalid JSON: got EOF while reading request body$/);
  invalid(() => parseJsonBody(Buffer.from('{"Image":"busybox",}')), /^invalid JSON: invalid character '}' looking for beginning of object key string at line 1, column 20$/);
  invalid(() => parseJsonBody(Buffer.from('{\n  "Image": busybox\n}')), /^invalid JSON: invalid character 'b' looking for beginning of value at line 2, column 12$/);
  invalid(() => parseJsonBody(Buffer.from('{"Image":')), /^invalid JSON: unexpected end of JSON input$/);
});

test('JSON bodies must be application/json', () => {
  checkJsonContentType('application/json', true);
  checkJsonContentType('application/json; charset=utf-8', true);
  checkJsonContentType(undefined, false);
  invalid(() => checkJsonContentType('text/plain', true), /unsupported Content-Type header \(text\/plain\): must be 'application\/json'/);
  invalid(() => checkJsonContentType(undefined, true), /malformed Content-Type header/);
});

test('bodies over the limit are refused', async () => {
  assert.equal((await readAll(Readable.from([Buffer.from('abc'), Buffer.from('def')]), 10)).toString(), 'abcdef');
  await assert.rejects(readAll(Readable.from([Buffer.alloc(8), Buffer.alloc(8)]), 10), /larger than the limit of 10 bytes/);
});

test('a body is read whole, from strings too; a stream closed before its end is an error', async () => {
  assert.equal((await readAll(Readable.from(['{"a":', '1}']))).toString(), '{"a":1}');
  const one = Buffer.from('{}');
  assert.equal(await readAll(Readable.from([one], { objectMode: false })), one, 'a body of one chunk is not copied');
  const ended = Readable.from([Buffer.from('x')]);
  ended.resume();
  await new Promise((r) => ended.once('end', r));
  assert.equal((await readAll(ended)).length, 0, 'a stream read before: nothing more');
  const cut = new Readable({ read() {} });
  cut.push(Buffer.from('{"a'));
  const pending = readAll(cut);
  setImmediate(() => cut.destroy());
  await assert.rejects(pending, (e: NodeJS.ErrnoException) => e.code === 'ERR_STREAM_PREMATURE_CLOSE');
  const failing = new Readable({ read() {} });
  const p2 = readAll(failing);
  setImmediate(() => failing.destroy(new Error('reset by peer')));
  await assert.rejects(p2, /reset by peer/);
});

test("syntax errors are located and worded as Go's encoding/json words them", () => {
  const cases: [string, string | undefined][] = [
    ['{"a":1}', undefined],
    ['[1, 2.5e3, -0, "x\\u00e9\\n", true, false, null, {}]', undefined],
    ['{"a":1,}', "invalid character '}' looking for beginning of object key string at line 1, column 8"],
    ['{"a" 1}', "invalid character '1' after object key at line 1, column 6"],
    ['{"a":1 "b":2}', "invalid character '\"' after object key:value pair at line 1, column 8"],
    ['[1 2]', "invalid character '2' after array element at line 1, column 4"],
    ['{\n  "Image": busybox\n}', "invalid character 'b' looking for beginning of value at line 2, column 12"],
    ['{"a":tru}', "invalid character '}' in literal true (expecting 'e') at line 1, column 9"],
    ['{"a":1}x', "invalid character 'x' after top-level value at line 1, column 8"],
    ['{"a":', 'unexpected end of JSON input'],
    ['{"a":"\\q"}', "invalid character 'q' in string escape code at line 1, column 8"],
  ];
  for (const [text, want] of cases) {
    const found = findJsonSyntaxError(text);
    const got = found === undefined ? undefined : found.message === 'unexpected end of JSON input' ? found.message : `${found.message} at line ${found.line}, column ${found.column}`;
    assert.equal(got, want, text);
  }
});

test('a __proto__ filter key stays data', () => {
  const f = parseFilters('{"__proto__":["x"],"status":["running"]}');
  assert.deepEqual(Object.getOwnPropertyDescriptor(f, '__proto__')?.value, ['x']);
  assert.equal(Object.getPrototypeOf(f), Object.prototype);
  assert.deepEqual(f.status, ['running']);
});
