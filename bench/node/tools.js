// Probes for bench/compare.sh, the same for every system under test. Plain Node, no dependencies.
//
//   node tools.js ready PORT WANT SINCE_MS [TIMEOUT_MS]
//       A new connection to /hello every 5 ms (not waiting for earlier ones) until WANT distinct pids have answered;
//       prints the milliseconds since SINCE_MS (epoch ms, taken just before the server was started).
//   node tools.js respawn PORT PRIMARY_PID [TIMEOUT_MS]
//       Learns for 0.5 s which workers of PRIMARY_PID answer /hello, SIGKILLs one of them at random, then opens a new
//       connection to /hello every 2 ms until a pid that was not serving answers (a restarted worker, or a promoted
//       warm spare); prints "<ms> <victim pid> <replacement pid>".
//   node tools.js share WORKERS KILLS_FILE TALLY_FILE
//       From wrk's per-pid tally (lines "tally <bin ms> <pid> <count>", 100 ms bins, see pid-tally.lua) and the kill
//       times (lines "<epoch ms> <victim pid>"), how soon each replacement got its share of the responses. Prints
//       "<kills> <replacement answered, ms> <replacement reached half its fair share, ms> <kills where it never did
//       before the next kill> <replacement's share 1-2 s after the kill, %>" (medians over the kills; - when none).
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const [command, ...args] = process.argv.slice(2);

function hello(port, onPid) {
  const request = http.get({ host: '127.0.0.1', port, path: '/hello', agent: false, headers: { Connection: 'close' }, timeout: 1000 }, (response) => {
    let body = '';
    response.on('data', (chunk) => { body += chunk; });
    response.on('end', () => {
      const match = /(\d+)\s*$/.exec(body);
      if (response.statusCode === 200 && match) onPid(Number(match[1]));
    });
  });
  request.on('timeout', () => request.destroy());
  request.on('error', () => {});
}

function children(pid) {
  const found = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      found.push(...fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number));
    } catch { /* the thread ended */ }
  }
  return found;
}

function poll(intervalMs, timeoutMs, port, onPid, onTimeout) {
  const timer = setInterval(() => hello(port, onPid), intervalMs);
  const deadline = setTimeout(() => { clearInterval(timer); onTimeout(); }, timeoutMs);
  return () => { clearInterval(timer); clearTimeout(deadline); };
}

function ready([port, want, since, timeout = '60000']) {
  const seen = new Set();
  const stop = poll(5, Number(timeout), Number(port), (pid) => {
    seen.add(pid);
    if (seen.size >= Number(want)) {
      stop();
      console.log(Date.now() - Number(since));
      process.exit(0);
    }
  }, () => { console.error(`ready: ${seen.size} of ${want} workers answered`); process.exit(1); });
}

// Capacity back after a crash: learns which workers serve (a warm spare, started but kept out of dispatch, does not),
// SIGKILLs one of them, then times until a pid that was not serving answers: a restarted worker or a promoted spare.
function respawn([port, primary, timeout = '10000']) {
  const serving = new Set();
  const workers = new Set(children(Number(primary)));
  poll(5, 500, Number(port), (pid) => serving.add(pid), () => {
    const victims = [...serving].filter((pid) => workers.has(pid));
    if (victims.length === 0) { console.error('respawn: no serving worker to kill'); process.exit(1); }
    const victim = victims[Math.floor(Math.random() * victims.length)];
    const start = process.hrtime.bigint();
    process.kill(victim, 'SIGKILL');
    const stop = poll(2, Number(timeout), Number(port), (pid) => {
      if (!serving.has(pid)) {
        stop();
        console.log(`${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(0)} ${victim} ${pid}`);
        process.exit(0);
      }
    }, () => { console.error('respawn: no replacement answered'); process.exit(1); });
  });
}

function median(values) {
  if (values.length === 0) return '-';
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function share([workers, killsFile, tallyFile]) {
  const fair = 1 / Number(workers);
  const kills = fs.readFileSync(killsFile, 'utf8').trim().split('\n').filter(Boolean).map((line) => line.split(' ').map(Number));
  const bins = new Map(); // bin ms -> Map(pid -> count)
  for (const line of fs.readFileSync(tallyFile, 'utf8').split('\n')) {
    const [tag, bin, pid, count] = line.trim().split(/\s+/);
    if (tag !== 'tally') continue;
    if (!bins.has(Number(bin))) bins.set(Number(bin), new Map());
    bins.get(Number(bin)).set(Number(pid), Number(count));
  }
  const times = [...bins.keys()].sort((a, b) => a - b);
  const end = times.length ? times[times.length - 1] + 100 : 0;
  const answered = []; const reached = []; const shares = []; let never = 0;
  kills.forEach(([at, victim], index) => {
    const until = index + 1 < kills.length ? kills[index + 1][0] : end;
    const earlier = new Set();
    for (const bin of times) if (bin < at) for (const pid of bins.get(bin).keys()) earlier.add(pid);
    let replacement = null; let reachedAt = null; let served = 0; let total = 0;
    for (const bin of times) {
      if (bin < at || bin >= until) continue;
      const counts = bins.get(bin);
      if (replacement === null) {
        for (const pid of counts.keys()) if (!earlier.has(pid) && pid !== victim) { replacement = pid; answered.push(Math.max(0, bin - at)); }
      }
      const all = [...counts.values()].reduce((a, b) => a + b, 0);
      const mine = replacement === null ? 0 : counts.get(replacement) || 0;
      if (reachedAt === null && all > 0 && mine / all >= fair / 2) reachedAt = Math.max(0, bin - at);
      if (bin >= at + 1000 && bin < at + 2000) { served += mine; total += all; }
    }
    if (reachedAt === null) never++; else reached.push(reachedAt);
    if (until - at >= 2000 && total > 0) shares.push((100 * served) / total);
  });
  const pct = median(shares);
  console.log(`${kills.length} ${median(answered)} ${median(reached)} ${never} ${pct === '-' ? '-' : pct.toFixed(1)}`);
}

const commands = { ready, respawn, share };
if (!commands[command]) { console.error(`usage: node tools.js ${Object.keys(commands).join('|')} ...`); process.exit(2); }
commands[command](args);
