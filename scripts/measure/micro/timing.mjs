// Micro-benchmark helper: ns per call of each candidate, `repeats` runs of
// `iterations` calls after a warm-up, candidates interleaved so that noise
// from the shared machine hits them alike. Time is the process's CPU time
// (process.cpuUsage), not wall time: on a 2-core machine shared with other
// work, wall time also counts the stretches the process was not running.
// Prints every run, sorted, and the min per candidate.
export function compare(candidates, { iterations = 200_000, repeats = 3 } = {}) {
  let sink = 0;
  const runs = new Map(Object.keys(candidates).map((k) => [k, []]));
  for (const fn of Object.values(candidates)) for (let i = 0; i < iterations / 10; i++) sink ^= fn(i) ? 1 : 0;
  for (let r = 0; r < repeats; r++) {
    for (const [name, fn] of Object.entries(candidates)) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < iterations; i++) sink ^= fn(i) ? 1 : 0;
      const used = process.cpuUsage(t0);
      runs.get(name).push(((used.user + used.system) * 1000) / iterations);
    }
  }
  for (const [name, ns] of runs) {
    const sorted = [...ns].sort((a, b) => a - b);
    console.log(`${name.padEnd(44)} ${sorted.map((n) => n.toFixed(0).padStart(6)).join(' ')} ns/call (min ${sorted[0].toFixed(0)})`);
  }
  return sink;
}
