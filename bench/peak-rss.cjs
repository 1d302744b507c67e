// Preloaded into a measured process (node --require bench/peak-rss.cjs …): as the process exits, it
// prints its peak resident set size (Linux VmHWM; maxRSS elsewhere) to stderr, for the benchmark to
// read. Worker threads share the process, so the scoring worker is counted too.
const { readFileSync } = require('node:fs');

process.on('exit', () => {
  let kb = process.resourceUsage().maxRSS;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) kb = Number(match[1]);
  } catch {
    // Not Linux: maxRSS it is.
  }
  process.stderr.write(`\nPEAK_RSS_KB ${kb}\n`);
});
