import { connect } from 'node:tls';

/**
 * Whether the server at `address` (host:port) completes a TLS handshake: how
 * a plaintext client tells a server that wants TLS from one that is down.
 * The server's certificate is not checked, nothing is sent after the
 * handshake, and any failure or `timeoutMs` without an answer is false.
 */
export function speaksTls(address: string, timeoutMs: number): Promise<boolean> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) return Promise.resolve(false);
  return new Promise((resolve) => {
    // The server asks for a client certificate but does not insist (transport-security.ts): a bare handshake completes.
    const socket = connect({ host, port, rejectUnauthorized: false, servername: 'dfs', ALPNProtocols: ['h2'] });
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}
