// RFC 6455 pieces of the websocket attach: the handshake accept value (the RFC's own
// example), server frame lengths, and the client frame decoder (masking, fragmentation
// across chunks, extended lengths, protocol errors).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG, encodeWsFrame, MAX_CLIENT_FRAME, Opcode, websocketAccept, WsFrameDecoder, WsProtocolError } from '../../../src/api/websocket.js';

function clientFrame(opcode: number, payload: Buffer, fin = true, lenOverride?: number): Buffer {
  const mask = randomBytes(4);
  const n = lenOverride ?? payload.length;
  const head = n < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | n]) : n < 0x10000 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 0x10000) {
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 0x10000) {
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  return Buffer.concat([head, mask, masked]);
}

test('the accept value of RFC 6455 §1.3', () => {
  assert.equal(websocketAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('server frames: 7-bit, 16-bit and 64-bit lengths, unmasked and final', () => {
  assert.deepEqual([...encodeWsFrame(Opcode.Binary, Buffer.from('hi'))], [0x82, 2, 0x68, 0x69]);
  const mid = encodeWsFrame(Opcode.Text, Buffer.alloc(300));
  assert.deepEqual([mid[0], mid[1], mid.readUInt16BE(2), mid.length], [0x81, 126, 300, 304]);
  const big = encodeWsFrame(Opcode.Binary, Buffer.alloc(70_000));
  assert.deepEqual([big[1], Number(big.readBigUInt64BE(2)), big.length], [127, 70_000, 70_010]);
});

test('client frames are unmasked, and reassembled when split at every byte', () => {
  const payloads = [Buffer.from('hello'), Buffer.alloc(1000, 7), Buffer.alloc(70_000, 9)];
  const wire = Buffer.concat(payloads.map((p, i) => clientFrame(i === 0 ? Opcode.Text : Opcode.Binary, p)));
  const d = new WsFrameDecoder();
  const got = [];
  for (let i = 0; i < wire.length; i += 997) got.push(...d.push(wire.subarray(i, i + 997)));
  assert.equal(got.length, 3);
  got.forEach((f, i) => assert.ok(f.payload.equals(payloads[i]!)));
  const small = new WsFrameDecoder();
  const one = clientFrame(Opcode.Continuation, Buffer.from('abc'), false);
  const frames = [...one].flatMap((b) => small.push(Buffer.from([b])));
  assert.deepEqual(frames.map((f) => [f.fin, f.opcode, f.payload.toString()]), [[false, 0, 'abc']]);
});

test('protocol errors: unmasked, oversized, fragmented control, reserved bits', () => {
  const err = (buf: Buffer, code: number): void => {
    assert.throws(() => new WsFrameDecoder().push(buf), (e: unknown) => e instanceof WsProtocolError && e.code === code);
  };
  err(Buffer.from([0x82, 0x02, 0x68, 0x69]), CLOSE_PROTOCOL_ERROR);
  err(clientFrame(Opcode.Binary, Buffer.alloc(0), true, MAX_CLIENT_FRAME + 1).subarray(0, 14), CLOSE_TOO_BIG);
  err(clientFrame(Opcode.Ping, Buffer.from('x'), false), CLOSE_PROTOCOL_ERROR);
  const rsv = clientFrame(Opcode.Text, Buffer.from('x'));
  rsv[0]! |= 0x40;
  err(rsv, CLOSE_PROTOCOL_ERROR);
});
