// The seed's primary: one worker per CPU on Node's cluster module (round-robin scheduling), re-fork on exit.
const cluster = require('node:cluster');
const os = require('node:os');

if (cluster.isPrimary) {
  console.log(`master ${process.pid} initialising cluster`);
  for (let i = 0; i < os.cpus().length; i++) {
    cluster.fork();
  }
  cluster.on('exit', (worker, code, signal) => {
    console.log(`worker ${worker.process.pid} died (${signal || code}); forking another`);
    cluster.fork();
  });
} else {
  require('./app.js');
}
