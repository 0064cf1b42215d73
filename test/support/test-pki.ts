import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Certificates made at test time with the machine's `openssl`, so no private key is ever committed: a CA, and
 * server or client certificates it signs. Keys are EC P-256 (fast to make) and everything is valid for two days.
 */

const run = promisify(execFile);

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** What {@link TestPki.issue} puts into a certificate. */
export interface IssueOptions {
  /** The subject's CN: the API server's user name for a client certificate. */
  readonly cn: string;
  /** The subject's O: the user's groups for a client certificate. */
  readonly organization?: string;
  /** `server` gets serverAuth and the SANs; `client` gets clientAuth. */
  readonly usage: 'server' | 'client';
  /** Subject alternative names of a server certificate (default `IP:127.0.0.1,DNS:localhost`). */
  readonly altNames?: string;
}

const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = \${ENV::SAN}
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

/** A scratch directory for making certificates; {@link dispose} removes it and every key in it. */
export class TestPki {
  private serial = 0;

  private constructor(private readonly dir: string) {}

  static async create(): Promise<TestPki> {
    const dir = await mkdtemp(join(tmpdir(), 'jibe-pki-'));
    await writeFile(join(dir, 'openssl.cnf'), CONFIG);
    return new TestPki(dir);
  }

  /** A self-signed CA. */
  async ca(cn: string): Promise<KeyPair> {
    const name = this.next();
    await this.openssl(
      ['req', '-x509', '-new', ...this.newKey(name), '-out', this.path(`${name}.crt`)],
      ['-subj', `/CN=${cn}`, '-days', '2', '-extensions', 'ca'],
    );
    return this.read(name);
  }

  /** A certificate signed by `ca`. */
  async issue(ca: KeyPair, options: IssueOptions): Promise<KeyPair> {
    const name = this.next();
    const subject = `/CN=${options.cn}${options.organization ? `/O=${options.organization}` : ''}`;
    await this.openssl(['req', '-new', ...this.newKey(name), '-out', this.path(`${name}.csr`)], ['-subj', subject]);
    await writeFile(this.path(`${name}-ca.crt`), ca.cert);
    await writeFile(this.path(`${name}-ca.key`), ca.key, { mode: 0o600 });
    await this.openssl(
      [
        'x509',
        '-req',
        '-in',
        this.path(`${name}.csr`),
        '-CA',
        this.path(`${name}-ca.crt`),
        '-CAkey',
        this.path(`${name}-ca.key`),
        '-set_serial',
        String(1000 + this.serial),
        '-days',
        '2',
        '-out',
        this.path(`${name}.crt`),
      ],
      ['-extfile', this.path('openssl.cnf'), '-extensions', options.usage],
      options.altNames ?? 'IP:127.0.0.1,DNS:localhost',
    );
    return this.read(name);
  }

  /** Removes the directory with every key made in it. */
  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private next(): string {
    return `c${++this.serial}`;
  }

  private path(file: string): string {
    return join(this.dir, file);
  }

  private newKey(name: string): string[] {
    return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', this.path(`${name}.key`)];
  }

  private async openssl(args: string[], extra: string[], san = 'IP:127.0.0.1'): Promise<void> {
    const config = args[0] === 'req' ? ['-config', this.path('openssl.cnf')] : [];
    await run('openssl', [...args, ...config, ...extra], { env: { ...process.env, SAN: san } });
  }

  private async read(name: string): Promise<KeyPair> {
    return {
      cert: await readFile(this.path(`${name}.crt`), 'utf8'),
      key: await readFile(this.path(`${name}.key`), 'utf8'),
    };
  }
}
