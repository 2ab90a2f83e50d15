// A worker thread of FileWriterPool (file-writer-pool.ts): creates the regular files of a
// layer that the applying thread handed over, each with its content, owner, mode and times.
// The applying thread has already checked every name and made every parent directory; a
// file is created exclusively (O_EXCL: an existing name or a symlink there fails, nothing is
// followed), so what is written here cannot leave the snapshot.

import { closeSync, fchmodSync, fchownSync, futimesSync, openSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { WriteBatch, WriteJob, WriteReply } from './file-writer-pool.js';

function writeOne(j: WriteJob, data: Uint8Array): void {
  const fd = openSync(j.path, 'wx', j.mode & 0o777);
  try {
    for (let off = j.offset, end = j.offset + j.size; off < end; ) off += writeSync(fd, data, off, end - off);
    // chown before chmod: chown clears set-user/group-ID bits.
    if (j.chown) fchownSync(fd, j.uid, j.gid);
    if (j.chmod) fchmodSync(fd, j.mode & 0o7777);
    futimesSync(fd, j.mtime / 1000, j.mtime / 1000);
  } finally {
    closeSync(fd);
  }
}

parentPort!.on('message', (b: WriteBatch) => {
  const data = new Uint8Array(b.data);
  let reply: WriteReply = { id: b.id, data: b.data };
  for (const j of b.jobs) {
    try {
      writeOne(j, data);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      reply = { ...reply, error: { name: j.name, message: err.message, ...(err.code ? { code: err.code } : {}) } };
      break; // the apply fails: nothing after the first error is written
    }
  }
  parentPort!.postMessage(reply, [b.data]); // the buffer goes back to be filled again
});
