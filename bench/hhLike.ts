/**
 * Generated HH-RLHF-like JSONL files for the benchmarks (index.bench.ts, cli-memory.bench.ts).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

// Generating HH-RLHF-like records: 1-4 human turns, a shared prompt, two different final answers,
// about 1.6 kB a line like the helpful-base split, with the quotes, newlines and non-ASCII text
// that JSON escaping has to carry.

function random(seed: number): () => number {
  // mulberry32: small, seedable, good enough to vary lengths and words reproducibly.
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the a to of and you it is that for in can I be this with do have your are what on not some or if ' +
  'how would like about make could help there they more time good know get want also just other ' +
  'recipe garden dog travel money sleep coffee bread water school music python café naïve "quoted" ' +
  'emoji🙂 résumé well really think maybe because people different question answer example'
).split(' ');

function sentence(rand: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)]);
  const text = out.join(' ');
  return text[0].toUpperCase() + text.slice(1) + (rand() < 0.15 ? '?\n' : '.');
}

function paragraph(rand: () => number, meanWords: number): string {
  const target = Math.max(3, Math.round(meanWords * (0.3 + 1.4 * rand())));
  const sentences: string[] = [];
  for (let words = 0; words < target; ) {
    const n = 4 + Math.floor(rand() * 14);
    sentences.push(sentence(rand, n));
    words += n;
  }
  return sentences.join(' ');
}

function hhRecord(rand: () => number): string {
  let prompt = '';
  const turns = 1 + Math.floor(rand() * rand() * 4);
  for (let t = 0; t < turns; t++) {
    prompt += `\n\nHuman: ${paragraph(rand, 14)}\n\nAssistant:`;
    if (t < turns - 1) prompt += ` ${paragraph(rand, 45)}`;
  }
  return JSON.stringify({ chosen: `${prompt} ${paragraph(rand, 60)}`, rejected: `${prompt} ${paragraph(rand, 60)}` });
}

export function generate(file: string, bytes: number): { records: number; seconds: number } {
  const started = performance.now();
  const rand = random(42);
  // A pool of distinct records written in random order: realistic line lengths at disk speed.
  const pool = Array.from({ length: 8192 }, () => Buffer.from(`${hhRecord(rand)}\n`));
  const fd = openSync(file, 'w');
  const block = Buffer.allocUnsafe(8 << 20);
  let written = 0;
  let records = 0;
  let used = 0;
  while (written + used < bytes) {
    const line = pool[Math.floor(rand() * pool.length)];
    if (used + line.length > block.length) {
      writeSync(fd, block, 0, used);
      [written, used] = [written + used, 0];
    }
    used += line.copy(block, used);
    records++;
  }
  writeSync(fd, block, 0, used);
  closeSync(fd);
  return { records, seconds: (performance.now() - started) / 1000 };
}
