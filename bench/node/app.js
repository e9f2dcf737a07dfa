// The reference app for bench/compare.sh: the seed's Express routes as one worker process.
// Run by cluster.js (Node's cluster module) or by PM2 in cluster mode; never by itself in the suite.
const express = require('express');

const app = express();
const pid = process.pid;

// The seed's CPU burn, verbatim: an empty loop of 1e8 iterations. It costs about 29 ms of CPU per request here, as
// samples/SeedDemo/CpuWork.cs does (1e8 additions to a kept sum). Summing in JavaScript would not be the same work:
// past 2^31 the sum is a double, and the loop takes about 650 ms.
app.get('/', (req, res) => {
  for (let i = 0; i < 1e8; i++) {
    // intentional delay
  }
  res.send(`response from: ${pid}`);
});

app.get('/kill-process', (req, res) => {
  res.send(`process: ${pid} died`);
  process.exit(0);
});

app.get('/hello', (req, res) => {
  res.send(`hello from ${pid}`);
});

app.listen(Number(process.env.PORT || 3000), '127.0.0.1');
