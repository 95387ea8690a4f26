import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { RedisProcess, RedisStartError } from './redis-process.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 5;

export interface SecureRedisOptions {
  /** The ACL user every node knows; the `default` user is switched off. */
  readonly user: string;
  readonly password: string;
}

export interface SecureNode {
  /** Plain TCP, still behind the ACL. */
  readonly port: number;
  /** TLS, with a certificate for IP 127.0.0.1 signed by nobody but itself (see `caPem`). */
  readonly tlsPort: number;
}

export interface SecureRedis {
  readonly host: string;
  readonly nodes: readonly SecureNode[];
  /** The self-signed certificate, to be trusted as the CA (ioredis `tls.ca`, NODE_EXTRA_CA_CERTS). */
  readonly caPem: string;
  readonly caFile: string;
  stop(): Promise<void>;
}

/**
 * `count` redis-server nodes the way production runs them: an ACL user with a password (no
 * anonymous access) and a TLS port next to the plain one. The certificate is made here with the
 * openssl CLI, valid for one day.
 */
export async function startSecureRedis(count: number, auth: SecureRedisOptions): Promise<SecureRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'redlock-secure-'));
  const servers: RedisProcess[] = [];
  const nodes: SecureNode[] = [];
  const stop = async () => {
    await Promise.allSettled(servers.map((server) => server.kill()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const { certFile, keyFile } = await makeCertificate(dir);
    for (let index = 0; index < count; index++) {
      const nodeDir = join(dir, `node${index}`);
      await mkdir(nodeDir);
      const { server, tlsPort } = await startOnFreePorts(nodeDir, auth, certFile, keyFile);
      servers.push(server);
      nodes.push({ port: server.port, tlsPort });
    }
    return { host: HOST, nodes, caPem: await readFile(certFile, 'utf8'), caFile: certFile, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function makeCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=IP:${HOST}`,
    ]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('openssl not found on PATH: install it with `apt-get install -y openssl` (Debian/Ubuntu)', { cause: error });
    }
    throw error;
  }
  return { certFile, keyFile };
}

/** Two free ports (plain and TLS); either can be taken before redis-server binds it, so retry. */
async function startOnFreePorts(
  dir: string,
  auth: SecureRedisOptions,
  certFile: string,
  keyFile: string,
): Promise<{ server: RedisProcess; tlsPort: number }> {
  for (let attempt = 1; ; attempt++) {
    const [port, tlsPort] = [await freePort(HOST), await freePort(HOST)];
    if (port === tlsPort) continue;
    try {
      const server = await RedisProcess.start({
        port,
        dir,
        appendOnly: true,
        auth: { user: auth.user, password: auth.password },
        extraArgs: [
          '--tls-port', String(tlsPort),
          '--tls-cert-file', certFile,
          '--tls-key-file', keyFile,
          '--tls-ca-cert-file', certFile,
          '--tls-auth-clients', 'no',
          '--user', 'default', 'off',
          '--user', auth.user, 'on', `>${auth.password}`, '~*', '&*', '+@all',
        ],
      });
      return { server, tlsPort };
    } catch (error) {
      if (!(error instanceof RedisStartError && error.addressInUse) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}
