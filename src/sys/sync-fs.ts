import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { systemError } from '../errors.js';

const run = promisify(execFile);

/**
 * syncfs(2) of the filesystem holding `path` (coreutils `sync --file-system`): every dirty
 * page and inode of that filesystem reaches the disk. One call after writing a whole tree
 * replaces an fsync per file and per directory.
 */
export async function syncFilesystem(path: string): Promise<void> {
  try {
    await run('sync', ['--file-system', path]);
  } catch (e) {
    throw systemError(`syncfs ${path}: ${((e as { stderr?: string }).stderr ?? '').trim() || (e as Error).message}`, e);
  }
}
