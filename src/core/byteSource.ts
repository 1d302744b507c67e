/**
 * The bytes of a dataset file, front to back, in chunks: read straight from the file, or inflated on
 * the way when the file is gzip-compressed (as Hugging Face ships HH-RLHF: `.jsonl.gz`). Compression
 * is recognised by the file's first bytes, not its name, so a renamed file is read the same way and
 * never reported as "not valid JSON".
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { IndexError } from './lineIndex';

const GZIP_MAGIC = [0x1f, 0x8b];

/** Whether the file starts with gzip's magic bytes. */
export async function isGzipFile(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

export interface Chunk {
  bytes: Buffer;
  /** Bytes of the file itself consumed so far (compressed bytes for a gzip file), for progress. */
  fileBytes: number;
}

/**
 * Chunks of the file's (inflated) content. `buffer(size)` supplies a buffer to read a plain file
 * into, so that the caller can recycle them; inflated chunks are zlib's own.
 */
export async function* readChunks(file: string, chunkSize: number, buffer: (size: number) => Buffer, signal?: AbortSignal): AsyncGenerator<Chunk> {
  if (await isGzipFile(file)) {
    yield* inflate(file, chunkSize, signal);
    return;
  }
  const handle = await open(file, 'r');
  try {
    for (let position = 0; ; ) {
      signal?.throwIfAborted();
      const chunk = buffer(chunkSize);
      const { bytesRead } = await handle.read(chunk, 0, chunkSize, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield { bytes: chunk.subarray(0, bytesRead), fileBytes: position };
    }
  } finally {
    await handle.close();
  }
}

async function* inflate(file: string, chunkSize: number, signal?: AbortSignal): AsyncGenerator<Chunk> {
  const input = createReadStream(file, { highWaterMark: chunkSize });
  const gunzip = createGunzip({ chunkSize });
  // Errors of either end surface through the gunzip stream's iterator.
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  try {
    for await (const bytes of gunzip) {
      signal?.throwIfAborted();
      yield { bytes: bytes as Buffer, fileBytes: input.bytesRead };
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new IndexError(`the gzip data is damaged or cut short (${(error as Error).message}); download the file again`);
    }
    throw error;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}
