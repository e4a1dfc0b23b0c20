import net from 'node:net';

// listen starts server on 127.0.0.1 at a port the kernel picks.
export function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

// freePort finds a port for a process that binds it itself (the collector).
export async function freePort() {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function connects(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

// waitForPort resolves once something accepts connections on port; it
// rejects when gone() says the process that should listen has died, or
// after timeoutMs.
export async function waitForPort(port, { timeoutMs = 30000, gone = () => '' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await connects(port)) return;
    const why = gone();
    if (why) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
